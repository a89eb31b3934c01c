/** Environment of the Lambda, read once at module scope; a missing variable fails the cold start loudly. */

export class MissingEnvironmentError extends Error {
  constructor(key: string) {
    super(`environment variable ${key} is not set; the RollbackFunction component sets it, check the function's configuration`);
    this.name = "MissingEnvironmentError";
  }
}

export function getStringFromEnv(key: string): string {
  const value = process.env[key];
  if (value === undefined || value.trim() === "") throw new MissingEnvironmentError(key);
  return value;
}
