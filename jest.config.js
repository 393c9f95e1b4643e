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
  // Two files at a time: most of a file's time is waiting (servers, browsers, child processes,
  // Redis), so two workers on this 2-core machine take the suite from ~460 s to ~360 s.
  maxWorkers: 2,
};
