import { BrewkitError } from "../errors.ts";
import { codecFor } from "../proto/registry.ts";
import type { SecretReader } from "../secrets/index.ts";
import { maxSecretBytes } from "../secrets/index.ts";
import { GrpcStatus, StatusError } from "../grpc/wire.ts";
import type { SessionService } from "./services.ts";
import { unaryMethod } from "./services.ts";

interface GetSecretRequest {
  ID: string;
  annotations: Record<string, string>;
}

interface GetSecretResponse {
  data: Uint8Array;
}

/**
 * moby.buildkit.secrets.v1.Secrets: the daemon asks for a secret by id when a step
 * mounts it. Only the ids in `named` (those the build's targets name) are served: any
 * other id answers NOT_FOUND without being read, even when the config file or a flag
 * defines it, so a daemon cannot ask for more than the build uses. Unset ids answer
 * NOT_FOUND too, which the daemon turns into "secret not found" (fatal unless the mount
 * is optional). Values go only into the response: nothing here logs or echoes them.
 */
export function secretsService(store: SecretReader, named: ReadonlySet<string>): SessionService {
  const requests = codecFor<GetSecretRequest>("moby.buildkit.secrets.v1.GetSecretRequest");
  const responses = codecFor<GetSecretResponse>("moby.buildkit.secrets.v1.GetSecretResponse");

  const getSecret = async (request: Buffer): Promise<Buffer> => {
    let id: string;
    try {
      id = requests.decode(request).ID;
    } catch (err) {
      throw new StatusError(GrpcStatus.INVALID_ARGUMENT, `malformed GetSecretRequest: ${(err as Error).message}`);
    }
    if (!named.has(id)) throw new StatusError(GrpcStatus.NOT_FOUND, `secret "${id}" is not named by any target of this build`);
    let data: Uint8Array | undefined;
    try {
      data = await store.read(id);
    } catch (err) {
      // BrewkitErrors describe the source (path, variable), never the value.
      const known = err instanceof BrewkitError;
      const details = known ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : `secret "${id}": ${(err as Error).message}`;
      throw new StatusError(known ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.INTERNAL, details);
    }
    if (data === undefined) throw new StatusError(GrpcStatus.NOT_FOUND, `secret "${id}" is not provided by the client`);
    // The daemon's own limit; a custom reader may not enforce it.
    if (data.length > maxSecretBytes) {
      throw new StatusError(GrpcStatus.FAILED_PRECONDITION, `secret "${id}" is larger than ${maxSecretBytes / 1024} KiB`);
    }
    return responses.encode({ data });
  };

  return { methods: { "/moby.buildkit.secrets.v1.Secrets/GetSecret": unaryMethod(getSecret) } };
}
