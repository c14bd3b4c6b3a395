/**
 * Message tags between the client and the parties carry the job's index (`j3/tok:0`), so a message of one job
 * can never be taken for the same step of another: the session runtime runs many jobs on one channel.
 */
export function jobTag(job: number, tag: string): string {
  if (!Number.isInteger(job) || job < 0) throw new Error(`job index must be a non-negative integer, got ${job}`);
  return `j${job}/${tag}`;
}
