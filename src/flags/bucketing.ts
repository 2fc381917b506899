// The same hash package unleash-client uses: it hashes the low byte of each UTF-16 code unit rather
// than UTF-8, so any other murmur3 implementation buckets non-ASCII ids differently.
import murmurHash3 from 'murmurhash3js';
import { normaliseEmail } from '../core/email.js';

/**
 * Unleash's flexibleRollout bucket of `id` in `groupId`: 1..100. A user is in a rollout of `percent`
 * when the bucket is at most `percent`, so raising the percentage never moves anybody back.
 */
export function bucketOf(groupId: string, id: string): number {
  return (murmurHash3.x86.hash32(`${groupId}:${id}`, 0) % 100) + 1;
}

export function inRollout(percent: number, groupId: string, id: string): boolean {
  return percent > 0 && bucketOf(groupId, id) <= percent;
}

/** The stickiness value for a user, as it is also passed to Unleash (`userId`, or the `email` property). */
export function stickinessKey(
  stickiness: 'userId' | 'email',
  user: { userId: string; email: string },
): string {
  return stickiness === 'email' ? normaliseEmail(user.email) : user.userId;
}
