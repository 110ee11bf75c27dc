// Module workers that import (the package's worker imports its wasm glue) need ES format.
export default { worker: { format: 'es' }, build: { target: 'es2022' } };
