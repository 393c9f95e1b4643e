// ipc-gateway/vite under Vite 7 (see suite.ts).
import { viteSuite } from "./suite.ts";

viteSuite(7);
