// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'reports/', 'eslint.config.js'] },
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
                '**/rig/rig/*',
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
