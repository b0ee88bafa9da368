package sim

// Test-only exports for the external compat tests.
var TestCatalog = testCatalog
