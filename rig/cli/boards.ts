import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'boards',
  usage: 'hw-test boards',
  main(_argv, io) {
    io.err('hw-test boards: not implemented yet');
    return Promise.resolve(2);
  },
};
