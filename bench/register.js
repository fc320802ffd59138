/**
 * A minimal TypeScript loader for the benchmark's server processes: compiles each .ts file
 * with swc as it is required, as the build would. ts-node is not used there because it
 * loads Node's REPL, which loads `domain`, which slows every EventEmitter.emit in the
 * process: the servers would be measured under a cost production never pays.
 */
'use strict';
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

const options = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), { ...options, filename });
  module._compile(code, filename);
};
