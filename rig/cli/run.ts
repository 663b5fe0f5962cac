import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'run',
  usage: 'hw-test run',
  main(_argv, io) {
    io.err('hw-test run: not implemented yet');
    return Promise.resolve(2);
  },
};
