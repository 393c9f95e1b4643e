// npm run bench: prints figures and ratios against peers. Not a test: speed goals live here.
import { benchHttp } from "./http.ts";
import { benchInProcess } from "./inprocess.ts";
import { benchReload } from "./reload.ts";
import { benchScale } from "./scale.ts";
import { benchBrowser } from "./browser.ts";
import { benchStreams } from "./streams.ts";
import { benchBus } from "./bus.ts";
import { benchAccess } from "./access.ts";
import { benchMetrics } from "./metrics.ts";
import { benchTracing } from "./tracing.ts";
import { formatFigure, type Figure } from "./measure.ts";

const suites: Record<string, () => Promise<Figure[]>> = {
  "in-process": benchInProcess,
  http: benchHttp,
  streams: benchStreams,
  reload: benchReload,
  scale: benchScale,
  browser: benchBrowser,
  bus: benchBus,
  access: benchAccess,
  metrics: benchMetrics,
  tracing: benchTracing,
};

const only = process.argv.slice(2);
console.log(`ipc-gateway bench — node ${process.version}, ${new Date().toISOString()}`);
let failed = false;
for (const [name, suite] of Object.entries(suites)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`\n## ${name}`);
  for (const figure of await suite()) {
    console.log(formatFigure(figure));
    if (figure.pass === false) failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
