import type { SessionService } from "./services.ts";
import { rawMethod } from "./services.ts";

// HealthCheckResponse{status: SERVING}: the daemon drops sessions that do not answer.
const serving = Buffer.from([0x08, 0x01]);

/** grpc.health.v1.Health, always SERVING while the session is open. */
export function healthService(): SessionService {
  return {
    definition: { Check: rawMethod("/grpc.health.v1.Health/Check", false, false) },
    implementation: {
      Check: (_call: unknown, callback: (err: null, res: Buffer) => void) => callback(null, serving),
    },
  };
}
