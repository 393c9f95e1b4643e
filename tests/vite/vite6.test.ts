// ipc-gateway/vite under Vite 6 (see suite.ts).
import { viteSuite } from "./suite.ts";

viteSuite(6);
