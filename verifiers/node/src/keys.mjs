// The Secrets Manager reads the key rules need, through @aws-sdk/client-secrets-manager:
// ListSecretVersionIds (every labelled version, its labels and CreatedDate) and
// GetSecretValue by VersionId (versions are immutable: each is read once). Nothing else
// talks to AWS, and nothing here runs per request.

import {
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/** Secrets Manager keeps ~100 versions; a few pages bound the work (as the authorizer). */
const MAX_PAGES = 5;

/** A failed call: the operation and the error code, never a secret value. */
export class SourceError extends Error {
  constructor(operation, detail) {
    super(`secrets manager ${operation} failed: ${detail}`);
    this.operation = operation;
    this.detail = detail;
  }
}

function detailOf(err) {
  const code = err?.name ?? 'Error';
  if (code === 'TimeoutError' || err?.code === 'ETIMEDOUT') return 'timeout';
  if (err?.code === 'ECONNREFUSED' || err?.code === 'ECONNRESET') return `dispatch failure (${err.code})`;
  return `${code} (${err?.message ?? ''})`;
}

/** A client with the authorizer's call budget: `timeoutMs` per attempt, 2 attempts. */
export function defaultClient(timeoutMs) {
  return new SecretsManagerClient({
    maxAttempts: 2,
    requestHandler: { requestTimeout: timeoutMs, connectionTimeout: timeoutMs },
  });
}

export class SecretsManagerSource {
  #client;
  #secretId;

  constructor({ client, secretId }) {
    this.#client = client;
    this.#secretId = secretId;
  }

  /** [{id, stages, created (Unix seconds)}] for every version that has a label. */
  async listVersions() {
    const versions = [];
    let NextToken;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out;
      try {
        out = await this.#client.send(new ListSecretVersionIdsCommand({
          SecretId: this.#secretId, IncludeDeprecated: false, NextToken,
        }));
      } catch (err) {
        throw new SourceError('ListSecretVersionIds', detailOf(err));
      }
      for (const v of out.Versions ?? []) {
        if (!v.VersionId || !v.VersionStages?.length) continue;
        versions.push({
          id: v.VersionId,
          stages: v.VersionStages,
          created: v.CreatedDate ? Math.floor(v.CreatedDate.getTime() / 1000) : null,
        });
      }
      NextToken = out.NextToken;
      if (!NextToken) break;
    }
    return versions;
  }

  /** A version's SecretString; null when the version no longer exists. */
  async getValue(versionId) {
    try {
      const out = await this.#client.send(new GetSecretValueCommand({
        SecretId: this.#secretId, VersionId: versionId,
      }));
      return out.SecretString ?? '';
    } catch (err) {
      if (err?.name === 'ResourceNotFoundException') return null;
      throw new SourceError('GetSecretValue', detailOf(err));
    }
  }
}
