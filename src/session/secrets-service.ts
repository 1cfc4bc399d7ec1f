import grpc from "@grpc/grpc-js";
import { BrewkitError } from "../errors.ts";
import { codecFor } from "../proto/registry.ts";
import type { SecretReader } from "../secrets/index.ts";
import { maxSecretBytes } from "../secrets/index.ts";
import type { SessionService } from "./services.ts";
import { rawMethod } from "./services.ts";

interface GetSecretRequest {
  ID: string;
  annotations: Record<string, string>;
}

interface GetSecretResponse {
  data: Uint8Array;
}

/**
 * moby.buildkit.secrets.v1.Secrets: the daemon asks for a secret by id when a step
 * mounts it. Unknown or unset ids answer NOT_FOUND, which the daemon turns into
 * "secret not found" (fatal unless the mount is optional). Values go only into the
 * response: nothing here logs or echoes them.
 */
export function secretsService(store: SecretReader): SessionService {
  const requests = codecFor<GetSecretRequest>("moby.buildkit.secrets.v1.GetSecretRequest");
  const responses = codecFor<GetSecretResponse>("moby.buildkit.secrets.v1.GetSecretResponse");

  const getSecret = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    let id: string;
    try {
      id = requests.decode(call.request).ID;
    } catch (err) {
      return callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed GetSecretRequest: ${(err as Error).message}` });
    }
    store.read(id).then(
      (data) => {
        if (data === undefined) return callback({ code: grpc.status.NOT_FOUND, details: `secret "${id}" is not provided by the client` });
        // The daemon's own limit; a custom reader may not enforce it.
        if (data.length > maxSecretBytes) {
          return callback({ code: grpc.status.FAILED_PRECONDITION, details: `secret "${id}" is larger than ${maxSecretBytes / 1024} KiB` });
        }
        callback(null, responses.encode({ data }));
      },
      (err: unknown) => {
        // BrewkitErrors describe the source (path, variable), never the value.
        const known = err instanceof BrewkitError;
        const details = known ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : `secret "${id}": ${(err as Error).message}`;
        callback({ code: known ? grpc.status.FAILED_PRECONDITION : grpc.status.INTERNAL, details });
      },
    );
  };

  return {
    definition: { GetSecret: rawMethod("/moby.buildkit.secrets.v1.Secrets/GetSecret", false, false) },
    implementation: { GetSecret: getSecret },
  };
}
