"""The Secrets Manager reads the key rules need, through boto3: ListSecretVersionIds
(every labelled version, its labels and CreatedDate) and GetSecretValue by VersionId
(versions are immutable: each is read once). Nothing else talks to AWS, and nothing here
runs per request."""

from __future__ import annotations

from typing import List, Optional, Tuple

# Secrets Manager keeps ~100 versions; a few pages bound the work (as the authorizer).
MAX_PAGES = 5

Version = Tuple[str, List[str], Optional[int]]


class SourceError(Exception):
    """A failed call: the operation and the error code, never a secret value."""

    def __init__(self, operation: str, detail: str):
        super().__init__(f"secrets manager {operation} failed: {detail}")
        self.operation = operation
        self.detail = detail


def _detail(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'unknown')} ({error.get('Message', '')})"
    return type(err).__name__


def default_client(timeout_ms: int):
    """A client with the authorizer's call budget: `timeout_ms` per attempt, 2 attempts."""
    import boto3
    from botocore.config import Config

    seconds = max(timeout_ms, 1) / 1000
    config = Config(
        connect_timeout=seconds,
        read_timeout=seconds,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client("secretsmanager", config=config)


class SecretsManagerSource:
    """Lists and reads one secret's versions through a boto3 Secrets Manager client."""

    def __init__(self, client, secret_id: str):
        self._client = client
        self._secret_id = secret_id

    def list_versions(self) -> List[Version]:
        versions: List[Version] = []
        kwargs = {"SecretId": self._secret_id, "IncludeDeprecated": False}
        for _ in range(MAX_PAGES):
            try:
                out = self._client.list_secret_version_ids(**kwargs)
            except Exception as err:  # botocore raises many kinds; all are a failed refresh
                raise SourceError("ListSecretVersionIds", _detail(err)) from None
            for v in out.get("Versions", []):
                stages = v.get("VersionStages") or []
                if not v.get("VersionId") or not stages:
                    continue
                created = v.get("CreatedDate")
                versions.append(
                    (v["VersionId"], list(stages), int(created.timestamp()) if created else None)
                )
            token = out.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return versions

    def get_value(self, version_id: str) -> Optional[str]:
        """A version's SecretString; None when the version no longer exists."""
        try:
            out = self._client.get_secret_value(SecretId=self._secret_id, VersionId=version_id)
        except Exception as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                return None
            raise SourceError("GetSecretValue", _detail(err)) from None
        return out.get("SecretString", "")
