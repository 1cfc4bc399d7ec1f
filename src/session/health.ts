import type { SessionService } from "./services.ts";
import { unaryMethod } from "./services.ts";

// HealthCheckResponse{status: SERVING}: the daemon drops sessions that do not answer.
const serving = Buffer.from([0x08, 0x01]);

/** grpc.health.v1.Health, always SERVING while the session is open. */
export function healthService(): SessionService {
  return { methods: { "/grpc.health.v1.Health/Check": unaryMethod(async () => serving) } };
}
