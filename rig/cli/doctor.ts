import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'doctor',
  usage: 'hw-test doctor',
  main(_argv, io) {
    io.err('hw-test doctor: not implemented yet');
    return Promise.resolve(2);
  },
};
