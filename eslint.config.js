// Lint rules: neostandard with TypeScript support, flat config.
import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**']
})
