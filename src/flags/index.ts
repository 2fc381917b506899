export { bucketOf, inRollout } from './bucketing.js';
export type {
  FlagSource,
  Flags,
  FreezeState,
  RolloutReason,
  RolloutState,
} from './flags.js';
