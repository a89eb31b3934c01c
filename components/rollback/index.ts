export { AutoRollback, type AutoRollbackArgs } from "./autoRollback";
export { RollbackFunction, type RollbackFunctionArgs } from "./rollbackFunction";
export { bundleLambda, LAMBDA_RUNTIME } from "./bundle";
