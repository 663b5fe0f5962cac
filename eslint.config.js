// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'reports/', 'eslint.config.js', '.dependency-cruiser.cjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Suites get the board through its interfaces, never a driver.
      'no-restricted-imports': 'off',
    },
  },
  {
    // The rig ends with no function over 80 lines (test/unit/architecture.test.ts checks it in CI too).
    files: ['rig/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['suites/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/rig/power/*',
                '!**/rig/power/power-switch.js',
                '**/rig/sdmux/*',
                '!**/rig/sdmux/sd-mux.js',
                '**/rig/gpio/*',
                '!**/rig/gpio/gpio.js',
                '**/rig/qemu/*',
                '**/rig/net/*',
                '**/rig/lab/*',
                '**/rig/sim/*',
                '**/rig/board/virtual-board.js',
              ],
              message: 'Suites use the board interfaces, not drivers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'suites/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
