import { classOf, errorMessage } from '../errors.js';

/** Retries what failed for the rig's sake only; a fail or a bug is returned at once. */
export async function withInfraRetries<T>(
  retries: number,
  fn: () => Promise<T>,
  onRetry: (n: number, why: string) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (classOf(err) !== 'infra' || attempt >= retries) throw err;
      onRetry(attempt + 1, errorMessage(err));
    }
  }
}
