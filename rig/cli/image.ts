import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'image',
  usage: 'hw-test image',
  main(_argv, io) {
    io.err('hw-test image: not implemented yet');
    return Promise.resolve(2);
  },
};
