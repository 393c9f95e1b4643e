// TypeScript runs under jest through @swc/jest (it strips types; tests/typecheck.test.ts runs
// tsc for the types). ESM throughout, hence --experimental-vm-modules in the test script.
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { target: "es2022", parser: { syntax: "typescript" } },
        module: { type: "es6" },
      },
    ],
  },
  moduleNameMapper: {
    "^ipc-gateway$": "<rootDir>/gateway/index.ts",
  },
  testMatch: ["<rootDir>/tests/**/*.test.ts"],
  testTimeout: 30000,
  // Two files at a time: most of a file's time is waiting (servers, browsers, Vite, npm installs,
  // child processes, Redis). Three workers on this 2-core machine were 14% faster but loaded it
  // enough for timing-sensitive cross-instance tests to fail now and then.
  maxWorkers: 2,
};
