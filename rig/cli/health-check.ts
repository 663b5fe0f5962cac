import type { CliCommand } from './io.js';

// Placeholder until this subcommand lands; it refuses clearly instead of pretending to work.
export const command: CliCommand = {
  summary: 'health-check',
  usage: 'hw-test health-check',
  main(_argv, io) {
    io.err('hw-test health-check: not implemented yet');
    return Promise.resolve(2);
  },
};
