// ipc-gateway/vite under Vite 8 (see suite.ts).
import { viteSuite } from "./suite.ts";

viteSuite(8);
