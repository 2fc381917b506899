#!/usr/bin/env node
import { main } from './main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
  // Once the command is done nothing should keep the process alive; if a stray handle does,
  // exit anyway rather than hang a script or CI job (unref'd: a clean exit is not delayed).
  setTimeout(() => process.exit(), 2000).unref();
});
