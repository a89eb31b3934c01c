/** moto_server start/stop for tests; shared with `remedy rehearse`. */
export { freePort, motoEnv, startMoto, type MotoServer } from "../../cli/rehearsal/moto";
