import { CommonFields } from '../src/schemas/common.js'
import { TEMPLATE_KINDS } from '../src/templates/index.js'
console.log(JSON.stringify(CommonFields).slice(0, 1200))
console.log(Object.keys(CommonFields))
const img = TEMPLATE_KINDS.find(k => k.kind === 'image')!
console.log(JSON.stringify(img.schema).length, Object.keys((img.schema as any).properties), (img.schema as any).required)
