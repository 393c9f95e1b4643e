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
};
