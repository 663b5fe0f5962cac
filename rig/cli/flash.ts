import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'flash',
  usage: 'hw-test flash',
  main(_argv, io) {
    io.err('hw-test flash: not implemented yet');
    return Promise.resolve(2);
  },
};
