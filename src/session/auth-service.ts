import { BrewkitError } from "../errors.ts";
import { GrpcStatus, StatusError } from "../grpc/wire.ts";
import { codecFor } from "../proto/registry.ts";
import type { Moby_Filesync_V1_CredentialsRequest as CredentialsRequest, Moby_Filesync_V1_CredentialsResponse as CredentialsResponse } from "../proto/generated.ts";
import type { CredentialSource } from "../registry/credentials.ts";
import type { SessionService } from "./services.ts";
import { unaryMethod } from "./services.ts";

const service = "/moby.filesync.v1.Auth/";

/**
 * moby.filesync.v1.Auth: the daemon asks for a registry's login when the registry
 * challenges a pull or a push. Only `Credentials` is served: the token-authority methods
 * answer UNIMPLEMENTED, which makes the daemon fetch registry tokens itself with the
 * login from `Credentials` (it calls `FetchToken` only after a token authority was
 * given). A host without a login gets empty credentials: the daemon goes anonymous.
 */
export function authService(credentials: CredentialSource): SessionService {
  const requests = codecFor<CredentialsRequest>("moby.filesync.v1.CredentialsRequest");
  const responses = codecFor<CredentialsResponse>("moby.filesync.v1.CredentialsResponse");
  const credentialsMethod = async (request: Buffer): Promise<Buffer> => {
    let host: string;
    try {
      host = requests.decode(request).Host ?? "";
    } catch (err) {
      throw new StatusError(GrpcStatus.INVALID_ARGUMENT, `malformed CredentialsRequest: ${(err as Error).message}`);
    }
    let login;
    try {
      login = await credentials.loginFor(host);
    } catch (err) {
      // The daemon puts this message into the pull's or push's error, which the user sees.
      const known = err instanceof BrewkitError;
      throw new StatusError(known ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.INTERNAL, known ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : `credentials for ${host}: ${(err as Error).message}`);
    }
    return responses.encode(login ? { Username: login.username, Secret: login.secret } : {});
  };
  const unimplemented = (method: string) => unaryMethod(async () => {
    throw new StatusError(GrpcStatus.UNIMPLEMENTED, `${method} is not served by brewkit; use Credentials`);
  });
  return {
    methods: {
      [`${service}Credentials`]: unaryMethod(credentialsMethod),
      [`${service}FetchToken`]: unimplemented("FetchToken"),
      [`${service}GetTokenAuthority`]: unimplemented("GetTokenAuthority"),
      [`${service}VerifyTokenAuthority`]: unimplemented("VerifyTokenAuthority"),
    },
  };
}
