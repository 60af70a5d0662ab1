// Filled in by its op family (see docs/ARCHITECTURE.md).
export {};
