export {
  classifyWorkosError,
  createWorkosClient,
  WorkosCallError,
  type WorkosFailureKind,
} from './client.js';
