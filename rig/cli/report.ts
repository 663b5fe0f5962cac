import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'report',
  usage: 'hw-test report',
  main(_argv, io) {
    io.err('hw-test report: not implemented yet');
    return Promise.resolve(2);
  },
};
