"""moto server with the AWS behaviours edgeseal's tests rely on and moto 5.2 lacks.

Started by scripts/moto instead of the bare `moto_server` entry point; takes the same
arguments (`-H HOST -p PORT`). Each patch below names the AWS behaviour it reproduces and
where that is documented or observed; see README.md beside this file.
"""

import json
import sys
import time
from urllib.parse import unquote

from moto.awslambda import models as lambda_models
from moto.secretsmanager import exceptions as secrets_exceptions
from moto.secretsmanager import models as secrets_models
from moto.server import main as moto_main


def _monotonic_lambda_versions() -> None:
    """PublishVersion numbers versions from a per-function counter that never goes back.

    AWS: a version number is never reused, whatever was deleted since: "AWS keeps an
    internal counter of the published version of each Lambda, so even if the published
    version(s) are deleted ... the next published version will be +1 larger than the
    last" (DataBiosphere/azul#6259, observed on AWS). The Lambda API reference agrees in
    what it leaves out: PublishVersion "creates a version from the current code and
    configuration", and DeleteFunction with a Qualifier deletes that version only.

    moto 5.2.6 numbers a new version `len(versions) + 1`: publish 1, 2, 3, delete 1,
    publish, and it answers "3" again, lists two versions numbered 3, and maps the ARN
    `...:3` to the new one (edgeseal issue 23: the rotator pointed CloudFront at a
    version number that still ran an older key, from the fourth rotation on).

    The counter lives in moto's own per-function record, so deleting the whole function
    (and creating it again) starts from 1, as a new function does on AWS.
    """
    storage = lambda_models.LambdaStorage
    original = storage.publish_version
    if getattr(original, "edgeseal_patched", False):
        return

    def publish_version(self, name_or_arn, description=""):
        function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        name = function.function_name
        record = self._functions.get(name)
        before = list(record["versions"]) if record else []
        published = original(self, name_or_arn, description)
        if published is None or record is None or any(v is published for v in before):
            # Nothing new was published (unchanged code returns the latest version, as
            # PublishVersion documents), or moto refused: nothing to renumber.
            return published
        highest = max([record.get("edgeseal_highest", 0)] + [int(v.version) for v in before])
        wanted = highest + 1
        record["edgeseal_highest"] = wanted
        if int(published.version) != wanted:
            reused_arn = published.function_arn
            # moto pointed the reused ARN at the new version; give it back to the version
            # that really carries that number, if one is left.
            holder = next((v for v in before if v.function_arn == reused_arn), None)
            if holder is not None:
                self._arns[reused_arn] = holder
            elif self._arns.get(reused_arn) is published:
                del self._arns[reused_arn]
            published.set_version(wanted)
            self._arns[published.function_arn] = published
        return published

    publish_version.edgeseal_patched = True
    storage.publish_version = publish_version


def _versions_listed_by_arn() -> None:
    """ListVersionsByFunction takes the function's ARN as well as its name.

    AWS: FunctionName is "The name or ARN of the Lambda function", in the name, full ARN
    and partial ARN formats (Lambda API reference, ListVersionsByFunction). moto 5.2.6
    looks the value up as a name only, so a full ARN lists no versions at all (seen
    here: `edgeseal status` lists by the ARN an association names).
    """
    storage = lambda_models.LambdaStorage
    original = storage.list_versions_by_function
    if getattr(original, "edgeseal_patched", False):
        return

    def list_versions_by_function(self, name):
        # moto hands over the URL path segment still percent-encoded.
        name = unquote(name)
        if name.startswith("arn:") and ":function:" in name:
            name = name.split(":function:", 1)[1].split(":", 1)[0]
        return original(self, name)

    list_versions_by_function.edgeseal_patched = True
    storage.list_versions_by_function = list_versions_by_function


#: What RotateSecret answers while a rotation is incomplete (InvalidRequestException),
#: word for word as AWS returns it (quoted in hashicorp/terraform-provider-aws#35023).
PREVIOUS_ROTATION_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."


def _rotation_left_to_its_invoker() -> None:
    """RotateSecret on a secret with a rotation function starts the rotation and returns.

    AWS (RotateSecret API reference): it "configures and starts the asynchronous process
    of rotating the secret. If you include the configuration parameters, the operation
    sets the values for the secret and then immediately starts a rotation. If you don't
    include the configuration parameters, the operation starts a rotation with the values
    already stored in the secret." The new version id (ClientRequestToken) is staged
    AWSPENDING without a value, and Secrets Manager invokes the function with it, step by
    step (createSecret, setSecret, testSecret, finishSecret; Rotation function guide);
    until finishSecret moves AWSCURRENT, AWSCURRENT stays where it was. "If the AWSPENDING
    staging label is present but not attached to the same version as AWSCURRENT, then any
    later invocation of RotateSecret assumes that a previous rotation request is still in
    progress and returns an error"; AWSPENDING on the AWSCURRENT version is how a
    successful rotation may end, and the next one starts from it.

    moto 5.2.6: RotateSecret without RotationLambdaARN forgets the configured function
    and moves AWSCURRENT onto the new, empty version at once (a user's `edgeseal rotate`
    or `aws secretsmanager rotate-secret` "completes" with no key); with a function it
    makes the new, empty version the one GetSecretValue answers without a stage; it
    refuses when AWSPENDING is on the AWSCURRENT version (the state a finished rotation
    leaves) and silently moves AWSPENDING off an incomplete rotation's version.

    Here, for a secret whose rotation function is given or configured: the refusal is
    AWS's (a configuration test's AWSPENDING version, which AWS removes itself and the
    invoker removes here, does not count); the configured function is used when none is
    given; AWSCURRENT and the version answered without a stage stay where they were. The
    steps are left to whoever stands in for Secrets Manager's invoker (tests, the demo,
    deploy-paths): the new AWSPENDING version is their token, DescribeSecret's
    RotationLambdaARN their function. (moto still "invokes" the function through its
    Lambda backend, which without Docker runs nothing.) A secret with no function keeps
    moto's behaviour.
    """
    backend = secrets_models.SecretsManagerBackend
    original = backend.rotate_secret
    if getattr(original, "edgeseal_invoker", False):
        return

    def rotate_secret(
        self,
        secret_id,
        client_request_token=None,
        rotation_lambda_arn=None,
        rotation_rules=None,
        rotate_immediately=True,
    ):
        secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
        configured = getattr(secret, "rotation_lambda_arn", "") if secret is not None else ""
        function = rotation_lambda_arn or configured
        if secret is None or not function or secret.is_deleted():
            return original(
                self, secret_id, client_request_token, rotation_lambda_arn, rotation_rules,
                rotate_immediately,
            )
        configuration_test = getattr(secret, "edgeseal_configuration_test", None)
        pending = [
            (version_id, version["version_stages"])
            for version_id, version in secret.versions.items()
            if "AWSPENDING" in version["version_stages"]
        ]
        for version_id, stages in pending:
            if "AWSCURRENT" not in stages and version_id != configuration_test:
                raise secrets_exceptions.InvalidRequestException(PREVIOUS_ROTATION_INCOMPLETE)
        for _, stages in pending:
            if "AWSCURRENT" in stages:
                stages.remove("AWSPENDING")
        current = next(
            (
                version_id
                for version_id, version in secret.versions.items()
                if "AWSCURRENT" in version["version_stages"]
            ),
            secret.default_version_id,
        )
        answer = original(
            self, secret_id, client_request_token, function, rotation_rules, rotate_immediately
        )
        secret.set_default_version_id(current)
        staged = [
            version_id
            for version_id, version in secret.versions.items()
            if "AWSPENDING" in version["version_stages"]
        ]
        secret.edgeseal_configuration_test = (
            None if rotate_immediately or not staged else staged[0]
        )
        return answer

    rotate_secret.edgeseal_invoker = True
    backend.rotate_secret = rotate_secret


def _current_follows_the_label() -> None:
    """GetSecretValue without a stage answers the version labelled AWSCURRENT.

    AWS (GetSecretValue API reference, VersionStage): "If you don't specify either a
    VersionStage or VersionId, then Secrets Manager defaults to AWSCURRENT." A rotation
    function's finishSecret moves AWSCURRENT with UpdateSecretVersionStage; from then on
    a read without a stage answers the new version.

    moto 5.2.6 answers such a read with the secret's `default_version_id`, which
    UpdateSecretVersionStage never changes: it follows AWSCURRENT only where moto's own
    RotateSecret moved both at once. Once `_rotation_left_to_its_invoker` stopped that, a
    read without a stage after a finished rotation answered the old version (seen in
    testkit/tests/moto_secret_rotation.rs, and by `edgeseal doctor` in deploy-paths).
    Here, moving AWSCURRENT onto a version makes it the one a read without a stage gets.
    """
    backend = secrets_models.SecretsManagerBackend
    original = backend.update_secret_version_stage
    if getattr(original, "edgeseal_patched", False):
        return

    def update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id=None, move_to_version_id=None
    ):
        answer = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    update_secret_version_stage.edgeseal_patched = True
    backend.update_secret_version_stage = update_secret_version_stage


def _last_rotated_when_rotation_completes() -> None:
    """DescribeSecret's LastRotatedDate is when the last rotation completed.

    AWS: LastRotatedDate is "the most recent date and time that the Secrets Manager
    rotation process was successfully completed" (API reference, SecretListEntry, and
    DescribeSecret's response in SDKs generated from earlier models); today's
    DescribeSecret reference says "the last date and time that Secrets Manager rotated
    the secret", null when rotation is not configured or disabled. A rotation completes
    when its function's finishSecret has moved AWSCURRENT onto the rotation's version
    (Rotation function guide: "finishSecret ... moves the label AWSCURRENT"); a rotation
    that fails and is retried completes, and is dated, only when a retry gets there.
    A testSecret-only run (RotateImmediately=false) rotates nothing.

    moto 5.2.6 sets it when RotateSecret is called, before any step has run (moto cannot
    invoke the function; tests drive the steps), and for a testSecret-only run too: a
    rotation that finished long after it began looks as if it finished at once.

    Here RotateSecret with a rotation function leaves LastRotatedDate as it was and
    remembers the version it staged AWSPENDING; UpdateSecretVersionStage moving AWSCURRENT
    onto that version dates the completion. The label move is the completion's observable
    edge (the function returns a moment later on AWS). RotateSecret without a function
    (moto moves AWSCURRENT at once, which AWS never does) keeps moto's date, since moto
    completed it there.
    """
    backend = secrets_models.SecretsManagerBackend
    rotate = backend.rotate_secret
    move = backend.update_secret_version_stage
    if getattr(rotate, "edgeseal_patched", False):
        return

    def rotate_secret(self, secret_id, *args, **kwargs):
        secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
        before = getattr(secret, "last_rotation_date", None)
        answer = rotate(self, secret_id, *args, **kwargs)
        secret = self.secrets[secret_id]
        if secret.rotation_lambda_arn:
            secret.last_rotation_date = before
            immediately = kwargs.get("rotate_immediately", True)
            staged = [
                version_id
                for version_id, version in secret.versions.items()
                if "AWSPENDING" in version["version_stages"]
            ]
            secret.edgeseal_rotating = staged[0] if immediately and staged else None
        return answer

    def update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    ):
        answer = move(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        secret = self.secrets[secret_id]
        rotating = getattr(secret, "edgeseal_rotating", None)
        if version_stage == "AWSCURRENT" and rotating and move_to_version_id == rotating:
            secret.last_rotation_date = int(time.time())
            secret.edgeseal_rotating = None
        return answer

    rotate_secret.edgeseal_patched = True
    backend.rotate_secret = rotate_secret
    backend.update_secret_version_stage = update_secret_version_stage


def _versions_listed_with_their_creation() -> None:
    """ListSecretVersionIds gives each version's own CreatedDate.

    AWS: SecretVersionsListEntry.CreatedDate is "the date and time this version of the
    secret was created" (API reference, ListSecretVersionIds / SecretVersionsListEntry).
    moto 5.2.6 reports `int(time.time())`, the time of the listing, for every version,
    while its GetSecretValue reports the second the version was stored. An authorizer
    that dates a demotion from the current version's creation then counts from its own
    start on every cold start: a grace that never ends early enough (edgeseal issue 19,
    the demo's authorizer processes).
    """
    backend = secrets_models.SecretsManagerBackend
    original = backend.list_secret_version_ids
    if getattr(original, "edgeseal_patched", False):
        return

    def list_secret_version_ids(self, secret_id):
        answer = json.loads(original(self, secret_id))
        versions = self.secrets[secret_id].versions
        for entry in answer.get("Versions", []):
            stored = versions.get(entry.get("VersionId"), {})
            if "createdate" in stored:
                entry["CreatedDate"] = stored["createdate"]
        return json.dumps(answer)

    list_secret_version_ids.edgeseal_patched = True
    backend.list_secret_version_ids = list_secret_version_ids


def main() -> None:
    _monotonic_lambda_versions()
    _versions_listed_by_arn()
    # Before the LastRotatedDate patch, which wraps RotateSecret again.
    _rotation_left_to_its_invoker()
    _current_follows_the_label()
    _last_rotated_when_rotation_completes()
    _versions_listed_with_their_creation()
    sys.argv[0] = "moto_server"
    moto_main()


if __name__ == "__main__":
    main()
