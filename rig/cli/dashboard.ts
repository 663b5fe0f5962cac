import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'dashboard',
  usage: 'hw-test dashboard',
  main(_argv, io) {
    io.err('hw-test dashboard: not implemented yet');
    return Promise.resolve(2);
  },
};
