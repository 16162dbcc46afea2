"""moto server as the tests run it (testkit/moto/server.py: its patches, each cited there),
plus two corrections the paths need.

- HTTP API ids: moto makes 8 lowercase letters; API Gateway's are 10 characters of
  [a-z0-9] (API Gateway V2 API reference examples, e.g. `a1b2c3d4e5`; the template's
  `ExistingHttpApiId` pattern). An existing API's id must pass the template's pattern, so
  ids are extended to 10 characters here (the endpoint URL with them).
- `GetAuthorizers` of an HTTP API: moto 5.2 routes it but has no handler ("The
  get_authorizers action has not been implemented"); `edgeseal doctor` and the API
  stand-in list an API's authorizers with it (API Gateway V2 API reference,
  GetAuthorizers: `{"items": [...]}`), so it answers from moto's own authorizers.
- AppSync API keys: moto makes 6-character ids; AppSync's keys (the id is the key) are
  `da2-` keys since February 2018 (ApiKey, AppSync API reference: key versions da1 and
  da2), `da2-` and 26 characters of [a-z0-9] as every published example shows.
  `edgeseal doctor` checks a secret of the `appsync-api-key` target holds one.
- Days passing for AppSync API keys (`POST /moto-api/edgeseal/appsync-days-pass`, JSON
  `{"region", "api_id", "days"}`): not an AWS API but the stand-in for time, which a path
  cannot wait out. Every key of the API comes `days` days closer to its `expires`, as the
  days would bring it; nothing else changes. A path needs it because the rotator deletes
  a demoted key only once it has expired, and AppSync (as moto, faithfully) refuses an
  `expires` less than a day ahead (UpdateApiKey API reference,
  `ApiKeyValidityOutOfBoundsException`).
"""
import importlib.util
import json
import os
import random
import string
from datetime import timedelta

from moto.apigatewayv2 import models, responses
from moto.appsync import models as appsync_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal import urls as moto_api_urls

_init = models.Api.__init__


def _api_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.api_id = self.api_id + "".join(random.choice(string.digits) for _ in range(2))
    self.api_endpoint = self.api_endpoint.replace("https://", "", 1)
    self.api_endpoint = "https://" + self.api_id + self.api_endpoint[self.api_endpoint.index("."):]


models.Api.__init__ = _api_init

_key_init = appsync_models.GraphqlAPIKey.__init__


def _appsync_key_init(self, *args, **kwargs):
    _key_init(self, *args, **kwargs)
    self.key_id = "da2-" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(26))


appsync_models.GraphqlAPIKey.__init__ = _appsync_key_init


def _get_authorizers(self):
    api_id = self.path.split("?")[0].rstrip("/").split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    return 200, {}, json.dumps({"items": [a.to_json() for a in api.authorizers.values()]})


responses.ApiGatewayV2Response.get_authorizers = _get_authorizers


def _appsync_days_pass(request, full_url, headers):
    body = json.loads(request.data or b"{}")
    backend = appsync_models.appsync_backends[DEFAULT_ACCOUNT_ID][body["region"]]
    keys = backend.graphql_apis[body["api_id"]].api_keys.values()
    for key in keys:
        key.expires -= timedelta(days=body["days"])
    return 200, {}, json.dumps({"keys": len(keys)})


moto_api_urls.url_paths["{0}/moto-api/edgeseal/appsync-days-pass"] = _appsync_days_pass

if __name__ == "__main__":
    # testkit/moto/server.py applies its patches, then starts moto server.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("edgeseal_testkit_moto", os.path.join(root, "testkit", "moto", "server.py"))
    testkit_moto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(testkit_moto)
    testkit_moto.main()
