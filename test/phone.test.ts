// Tests for src/phone.ts: normalization table, allowances, rejections, masking, never throwing.
import t from 'tap'
import { getExampleNumber, parsePhoneNumberWithError, type CountryCode } from 'libphonenumber-js/max'
import examples from 'libphonenumber-js/mobile/examples'
import { normalizePhone, maskPhone, PHONE_CACHE_SIZE, type CountrySource, type PhoneRejectReason } from '../src/phone.js'

interface OkRow {
  input: string
  region?: string
  normalized: string
  country: string | null
  allowance?: 'MX_521' | 'BR_NO_NINTH_DIGIT'
  source: CountrySource
  note: string
}

interface RejectRow {
  input: string
  region?: string
  reason: PhoneRejectReason
  note: string
}

const accepted: OkRow[] = [
  // Ecuador
  { input: '+593 98 765 4321', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'EC mobile, international' },
  { input: '+593987654321', region: 'MX', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'explicit + ignores the region' },
  { input: '0987654321', region: 'EC', normalized: '593987654321', country: 'EC', source: 'country-field', note: 'EC national with trunk zero' },
  { input: '098-765-4321', region: 'ec', normalized: '593987654321', country: 'EC', source: 'country-field', note: 'region is case-insensitive' },
  { input: '987654321', region: 'EC', normalized: '593987654321', country: 'EC', source: 'country-field', note: 'EC national without trunk zero' },
  { input: '+593 098 765 4321', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'stray trunk zero after country code' },
  { input: '5930987654321', normalized: '593987654321', country: 'EC', source: 'digits', note: 'bare digits with stray trunk zero' },
  { input: '00593 98 765 4321', normalized: '593987654321', country: 'EC', source: 'prefix', note: '00 international prefix' },
  { input: '+593–98–765–4321', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'Unicode en dashes' },
  { input: '\t+593987654321\n', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'surrounding whitespace' },
  { input: '02 212 3456', region: 'EC', normalized: '59322123456', country: 'EC', source: 'country-field', note: 'EC Quito landline, national' },
  { input: '593 98 765 4321', region: 'CO', normalized: '593987654321', country: 'EC', source: 'digits', note: 'bare foreign digits: only the international reading is valid' },
  { input: '593987654321', region: 'EC', normalized: '593987654321', country: 'EC', source: 'digits', note: 'digits start with the region\'s own calling code: international kept' },
  // Mexico
  { input: '+52 55 1234 5678', normalized: '525512345678', country: 'MX', source: 'prefix', note: 'MX current 10-digit form' },
  { input: '55 1234 5678', region: 'MX', normalized: '525512345678', country: 'MX', source: 'country-field', note: 'MX national' },
  { input: '+52 1 55 1234 5678', normalized: '5215512345678', country: 'MX', allowance: 'MX_521', source: 'prefix', note: 'MX old mobile 521 form, allowance' },
  { input: '5215512345678', normalized: '5215512345678', country: 'MX', allowance: 'MX_521', source: 'digits', note: 'MX 521 bare digits' },
  { input: '5215512345678', region: 'MX', normalized: '5215512345678', country: 'MX', allowance: 'MX_521', source: 'digits', note: 'MX 521 with region' },
  { input: '00 52 1 222 123 4567', normalized: '5212221234567', country: 'MX', allowance: 'MX_521', source: 'prefix', note: 'MX 521 with 00 prefix' },
  { input: '1 55 1234 5678', region: 'MX', normalized: '5215512345678', country: 'MX', allowance: 'MX_521', source: 'country-field', note: 'also a valid US number; with region MX the national reading (521 allowance) wins' },
  { input: '525512345678', region: 'MX', normalized: '525512345678', country: 'MX', source: 'digits', note: 'own calling code 52 with region MX: international' },
  // Argentina
  { input: '011 15 2345 6789', region: 'AR', normalized: '5491123456789', country: 'AR', source: 'country-field', note: 'AR national mobile with 15: libphonenumber gives 54 9 11' },
  { input: '11 15-2345-6789', region: 'ar', normalized: '5491123456789', country: 'AR', source: 'country-field', note: 'AR mobile with 15, no trunk zero' },
  { input: '+54 9 11 2345 6789', normalized: '5491123456789', country: 'AR', source: 'prefix', note: 'AR mobile international with 9' },
  { input: '+54 11 15 2345 6789', normalized: '5491123456789', country: 'AR', source: 'prefix', note: 'AR 15 inside international form becomes 9' },
  { input: '+54 11 2345 6789', normalized: '541123456789', country: 'AR', source: 'prefix', note: 'AR without 9 is a valid landline, kept as is' },
  // Brazil
  { input: '+55 11 98765 4321', normalized: '5511987654321', country: 'BR', source: 'prefix', note: 'BR mobile with ninth digit' },
  { input: '0 21 98765 4321', region: 'BR', normalized: '5521987654321', country: 'BR', source: 'country-field', note: 'BR national with trunk zero' },
  { input: '+55 11 3456 7890', normalized: '551134567890', country: 'BR', source: 'prefix', note: 'BR landline, strictly valid' },
  { input: '+55 11 8765 4321', normalized: '551187654321', country: 'BR', allowance: 'BR_NO_NINTH_DIGIT', source: 'prefix', note: 'BR mobile without ninth digit' },
  { input: '551187654321', normalized: '551187654321', country: 'BR', allowance: 'BR_NO_NINTH_DIGIT', source: 'digits', note: 'BR no ninth digit, bare' },
  { input: '(11) 8765-4321', region: 'BR', normalized: '551187654321', country: 'BR', allowance: 'BR_NO_NINTH_DIGIT', source: 'country-field', note: 'BR no ninth digit, national' },
  // Colombia
  { input: '+57 321 123 4567', normalized: '573211234567', country: 'CO', source: 'prefix', note: 'CO mobile' },
  { input: '321 123 4567', region: 'CO', normalized: '573211234567', country: 'CO', source: 'country-field', note: 'also a valid Belgian number; with region CO the national reading wins' },
  { input: '593987654321', region: 'CO', normalized: '593987654321', country: 'EC', source: 'digits', note: 'national CO reading invalid: international EC' },
  // Peru
  { input: '+51 912 345 678', normalized: '51912345678', country: 'PE', source: 'prefix', note: 'PE mobile' },
  { input: '912345678', region: 'PE', normalized: '51912345678', country: 'PE', source: 'country-field', note: 'PE national' },
  { input: '+51 0912 345 678', normalized: '51912345678', country: 'PE', source: 'prefix', note: 'PE stray zero' },
  // United States
  { input: '+1 201-555-0123', normalized: '12015550123', country: 'US', source: 'prefix', note: 'US international' },
  { input: '1 (201) 555-0123', region: 'US', normalized: '12015550123', country: 'US', source: 'digits', note: 'US with leading 1' },
  { input: '(201) 555-0123', region: 'US', normalized: '12015550123', country: 'US', source: 'country-field', note: 'also a valid Egyptian number; with region US the national reading wins' },
  { input: '2015550123', normalized: '2015550123', country: 'EG', source: 'digits', note: 'unformatted digits are Jelou\'s own format, country code first (SPEC §6): Egypt' },
  { input: '011 593 98 765 4321', region: 'US', normalized: '593987654321', country: 'EC', source: 'prefix', note: 'US international prefix 011 understood with region US' },
  // United Kingdom
  { input: '+44 (0)20 7946 0958', normalized: '442079460958', country: 'GB', source: 'prefix', note: 'GB (0) stray zero' },
  { input: '07400 123456', region: 'GB', normalized: '447400123456', country: 'GB', source: 'country-field', note: 'GB national mobile' },
  { input: '00 44 7400 123456', normalized: '447400123456', country: 'GB', source: 'prefix', note: 'GB with 00' },
  // Spain
  { input: '+34 612 34 56 78', normalized: '34612345678', country: 'ES', source: 'prefix', note: 'ES mobile' },
  { input: '612 345 678', region: 'ES', normalized: '34612345678', country: 'ES', source: 'country-field', note: 'ES national (no trunk prefix)' },
  // Germany
  { input: '+49 151 23456789', normalized: '4915123456789', country: 'DE', source: 'prefix', note: 'DE mobile' },
  { input: '0151 23456789', region: 'DE', normalized: '4915123456789', country: 'DE', source: 'country-field', note: 'DE national with trunk zero' },
  { input: '4915123456789', region: 'EC', normalized: '4915123456789', country: 'DE', source: 'digits', note: 'bare German digits with region EC: national EC reading invalid' },
  { input: '15123456789', region: 'DE', normalized: '4915123456789', country: 'DE', source: 'country-field', note: 'DE mobile without trunk zero is also a valid US number; national wins' },
  { input: '15123456789', normalized: '15123456789', country: 'US', source: 'digits', note: 'unformatted digits without a region: Jelou\'s own format, country code first' },
  { input: '4915123456789', region: 'DE', normalized: '4915123456789', country: 'DE', source: 'digits', note: 'own calling code 49 with region DE: international, although national +49 4915123456789 is valid too' },
  // Chile
  { input: '+56 9 6123 4567', normalized: '56961234567', country: 'CL', source: 'prefix', note: 'CL mobile' },
  { input: '09 6123 4567', region: 'CL', normalized: '56961234567', country: 'CL', source: 'country-field', note: 'CL national with trunk zero' },
  { input: '+56 2 2123 4567', normalized: '56221234567', country: 'CL', source: 'prefix', note: 'CL Santiago landline' },
  // India
  { input: '+91 81234 56789', normalized: '918123456789', country: 'IN', source: 'prefix', note: 'IN mobile' },
  { input: '081234 56789', region: 'IN', normalized: '918123456789', country: 'IN', source: 'country-field', note: 'IN national with trunk zero' },
  // Non-geographic
  { input: '+800 1234 5678', normalized: '80012345678', country: null, source: 'prefix', note: 'international freephone has no region' }
]

const rejected: RejectRow[] = [
  { input: '', reason: 'NOT_A_NUMBER', note: 'empty' },
  { input: '   ', reason: 'NOT_A_NUMBER', note: 'blank' },
  { input: 'abc', reason: 'NOT_A_NUMBER', note: 'letters' },
  { input: '+1 800 FLOWERS', reason: 'NOT_A_NUMBER', note: 'vanity letters' },
  { input: '+593 98 765 4321 ext 12', reason: 'NOT_A_NUMBER', note: 'extension' },
  { input: '+593 98 765 4321 #', reason: 'NOT_A_NUMBER', note: 'stray symbol' },
  { input: '+593 98+765', reason: 'NOT_A_NUMBER', note: 'plus in the middle' },
  { input: '０９８７６５４３２１', region: 'EC', reason: 'NOT_A_NUMBER', note: 'full-width digits' },
  { input: '+', reason: 'NOT_A_NUMBER', note: 'plus only' },
  { input: '00', reason: 'NOT_A_NUMBER', note: 'international prefix only' },
  { input: '++1', reason: 'NOT_A_NUMBER', note: 'double plus' },
  { input: '+593 98', reason: 'TOO_SHORT', note: 'EC too short' },
  { input: '099 12', region: 'EC', reason: 'TOO_SHORT', note: 'national too short' },
  { input: '12345', reason: 'TOO_SHORT', note: 'five bare digits' },
  { input: '+593 98 765 4321 000', reason: 'TOO_LONG', note: 'EC too long' },
  { input: '0912345678901234', region: 'EC', reason: 'TOO_LONG', note: 'national too long' },
  { input: '12345678901234567890123', reason: 'TOO_LONG', note: 'bare digits too long' },
  { input: '+52 1 11 1234 5678', reason: 'TOO_LONG', note: 'MX 521 with an invalid area code gets no allowance' },
  { input: '+999 123 4567', reason: 'INVALID_COUNTRY', note: 'unknown calling code' },
  { input: '00999 123 4567', reason: 'INVALID_COUNTRY', note: 'unknown calling code after 00' },
  { input: '0987654321', region: 'ZZ', reason: 'INVALID_COUNTRY', note: 'unknown region' },
  { input: '+593987654321', region: 'ecu', reason: 'INVALID_COUNTRY', note: 'region must be alpha-2' },
  { input: '0987654321', reason: 'NEEDS_COUNTRY', note: 'EC national without region' },
  { input: '098 765 4321', region: '', reason: 'NEEDS_COUNTRY', note: 'empty region counts as none' },
  { input: '987654321', reason: 'NEEDS_COUNTRY', note: 'EC national without trunk zero, no region' },
  { input: '07400 123456', reason: 'NEEDS_COUNTRY', note: 'GB national without region' },
  { input: '593-98-765-4321', reason: 'NEEDS_COUNTRY', note: 'formatted digits without + or a region are never guessed' },
  { input: '(593) 98.765.4321', reason: 'NEEDS_COUNTRY', note: 'parentheses and dots without + or a region' },
  { input: '1 55 1234 5678', reason: 'NEEDS_COUNTRY', note: 'same digits formatted, no region: not guessed as US' },
  { input: '321 123 4567', reason: 'NEEDS_COUNTRY', note: 'CO mobile formatted, no region: never sent to Belgium' },
  { input: '(201) 555-0123', reason: 'NEEDS_COUNTRY', note: 'US national formatted, no region: never sent to Egypt' },
  { input: '201-555-7788', reason: 'NEEDS_COUNTRY', note: 'US national with dashes, no region (valid in Egypt as digits)' },
  { input: '020 7946 0958', reason: 'NEEDS_COUNTRY', note: 'GB London national with trunk zero, no region' },
  { input: '55 1234 5678', reason: 'NEEDS_COUNTRY', note: 'MX national formatted, no region' },
  { input: '(11) 98765-4321', reason: 'NEEDS_COUNTRY', note: 'BR national formatted, no region' },
  { input: '098.765.4321', reason: 'NEEDS_COUNTRY', note: 'EC national with dots, no region' },
  { input: '12 34', reason: 'TOO_SHORT', note: 'formatted, no region, too few digits to be any number' },
  { input: '1234 5678 9012 3456 7890', reason: 'TOO_LONG', note: 'formatted, no region, too many digits to be any number' },
  { input: '02 212 345', region: 'EC', reason: 'INVALID_FOR_REGION', note: 'EC landline one digit short, with region' },
  { input: '555 123 4567', region: 'US', reason: 'INVALID_FOR_REGION', note: 'US area code 555 read nationally' },
  { input: '+593 5 123 4567', reason: 'INVALID_FOR_REGION', note: 'EC area code 5 does not exist' },
  { input: '+1 555 123 4567', reason: 'INVALID_FOR_REGION', note: 'US area code 555 does not exist' },
  { input: '+44 20 1234 567', reason: 'INVALID_FOR_REGION', note: 'GB London number one digit short' },
  { input: '+57 123 456 7890', reason: 'INVALID_FOR_REGION', note: 'CO number starting with 1' },
  { input: '+51 112 345 678', reason: 'INVALID_FOR_REGION', note: 'PE number starting with 1' },
  { input: '+56 1 2345 6789', reason: 'INVALID_FOR_REGION', note: 'CL number starting with 1' },
  { input: '+54 15 2345 6789', reason: 'INVALID_FOR_REGION', note: 'AR 15 without area code' },
  { input: '+55 00 8765 4321', reason: 'INVALID_FOR_REGION', note: 'BR area code 00 gets no allowance' },
  { input: '01 55 1234 5678', region: 'MX', reason: 'TOO_LONG', note: 'MX old long-distance prefix 01 is no longer understood' },
  { input: '044 55 1234 5678', region: 'MX', reason: 'TOO_LONG', note: 'MX old mobile prefix 044 is no longer understood' }
]

const describe = (input: string, region?: string): string =>
  `${JSON.stringify(input)}${region === undefined ? '' : ` [${region}]`}`

t.test('accepted numbers normalize to digits-only international form', async t => {
  const countries = new Set(accepted.map(r => r.country).filter(c => c !== null))
  t.ok(countries.size >= 8, 'covers at least 8 countries')
  for (const row of accepted) {
    const r = normalizePhone(row.input, row.region)
    const expected: Record<string, unknown> = { input: row.input, normalized: row.normalized, country: row.country, countrySource: row.source }
    if (row.allowance !== undefined) expected.allowance = row.allowance
    t.strictSame(r, { ok: true, phone: expected }, `${describe(row.input, row.region)}: ${row.note}`)
  }
})

t.test('rejected numbers give the exact reason', async t => {
  for (const row of rejected) {
    const r = normalizePhone(row.input, row.region)
    t.equal(r.ok, false, `${describe(row.input, row.region)} rejected: ${row.note}`)
    if (!r.ok) {
      t.equal(r.reason, row.reason, `${describe(row.input, row.region)}: ${row.note}`)
      t.ok(r.message.length > 0, 'has a message')
    }
  }
})

t.test('table has at least 40 real-world rows', async t => {
  t.ok(accepted.length + rejected.length >= 40)
})

t.test('libphonenumber-js max metadata behaviour behind the allowances', async t => {
  const mx = parsePhoneNumberWithError('+5215512345678')
  t.equal(mx.isValid(), false, 'MX 521 + 10 digits is invalid in strict metadata')
  t.equal(mx.nationalNumber, '15512345678', 'the 1 is kept in the national number')
  t.equal(parsePhoneNumberWithError('+525512345678').isValid(), true, 'MX without the 1 is valid')

  const br = parsePhoneNumberWithError('+551187654321')
  t.equal(br.isValid(), false, 'BR 8-digit mobile is invalid in strict metadata')
  t.equal(br.isPossible(), true, '... although its length is possible')
  t.equal(parsePhoneNumberWithError('+5511987654321').getType(), 'MOBILE', 'with the ninth digit it is a mobile')

  // Collisions behind the national-first rule: both readings are valid, in different countries.
  const eg = parsePhoneNumberWithError('+2015550123')
  t.equal(eg.isValid() && eg.country, 'EG', '+2015550123 is a valid Egyptian number')
  const us = parsePhoneNumberWithError('2015550123', 'US')
  t.equal(us.isValid() && us.country, 'US', '2015550123 with US is a valid US number')
  const de = parsePhoneNumberWithError('4915123456789', 'DE')
  t.equal(de.isValid() && de.number, '+494915123456789', 'own-code digits also have a valid DE national reading')

  const ar = parsePhoneNumberWithError('011 15 2345 6789', 'AR')
  t.equal(ar.number, '+5491123456789', 'AR national 15 becomes 9 after the country code')
  t.equal(ar.getType(), 'MOBILE')
})

t.test('example mobile numbers round-trip in every accepted format', async t => {
  const regions: CountryCode[] = ['EC', 'MX', 'AR', 'BR', 'CO', 'PE', 'US', 'GB', 'ES', 'DE', 'CL', 'IN']
  for (const region of regions) {
    const ex = getExampleNumber(region, examples)
    if (ex === undefined) {
      t.fail(`no example for ${region}`)
      continue
    }
    const want = ex.number.slice(1)
    const forms: Array<[string, CountrySource]> = [[ex.number, 'prefix'], [`00${want}`, 'prefix'], [want, 'digits'], [ex.formatInternational(), 'prefix']]
    for (const [form, countrySource] of forms) {
      const r = normalizePhone(form)
      t.strictSame(r, { ok: true, phone: { input: form, normalized: want, country: region, countrySource } }, `${region} ${form}`)
    }
    const national = ex.formatNational()
    const r = normalizePhone(national, region)
    t.strictSame(r, { ok: true, phone: { input: national, normalized: want, country: region, countrySource: 'country-field' } }, `${region} national ${national}`)
    const byDefault = normalizePhone(national, region, 'default-country')
    t.match(byDefault, { ok: true, phone: { normalized: want, countrySource: 'default-country' } }, `${region} national through DEFAULT_COUNTRY`)
    t.match(normalizePhone(national), { ok: false }, `${region} national ${national} without a region is refused, never guessed`)
  }
})

t.test('without a region, formatted input is NEEDS_COUNTRY with a sentence naming + and the country field', async t => {
  for (const input of ['(201) 555-0123', '201-555-7788', '321 123 4567']) {
    const r = normalizePhone(input)
    t.match(r, { ok: false, reason: 'NEEDS_COUNTRY', message: /with \+ and the country calling code, or give its region in the country field/ }, input)
    t.match(normalizePhone(input, 'US'), { ok: true }, `${input} with a region is read`)
  }
})

t.test('INVALID_FOR_REGION names the region assumed and where it came from', async t => {
  t.match(normalizePhone('+1 555 123 4567'), { ok: false, reason: 'INVALID_FOR_REGION', region: 'US', message: 'The phone number is not a valid number in United States (US), the country of its calling code.' })
  t.match(normalizePhone('+593 5 123 4567'), { ok: false, region: 'EC', message: /Ecuador \(EC\)/ })
  t.match(normalizePhone('555 123 4567', 'US'), { ok: false, region: 'US', message: /United States \(US\), the region given in the country field/ })
  t.match(normalizePhone('555 123 4567', 'US', 'default-country'), { ok: false, region: 'US', message: /the region set in DEFAULT_COUNTRY/ })
})

t.test('input longer than 64 characters is TOO_LONG without parsing', async t => {
  const padded = '+593987654321'.padEnd(64, ' ')
  t.equal(normalizePhone(padded).ok, true, '64 characters are still parsed')
  const r = normalizePhone(padded + ' ')
  t.equal(r.ok ? null : r.reason, 'TOO_LONG', '65 characters')
  const letters = normalizePhone('x'.repeat(65))
  t.equal(letters.ok ? null : letters.reason, 'TOO_LONG', 'even letters')
})

t.test('rejection messages never contain digits', async t => {
  const inputs = [
    ...rejected.map(r => [r.input, r.region] as const),
    ['+593 98 765 4321 999', undefined] as const,
    ['0987654321', 'ZZ'] as const,
    ['1'.repeat(70), undefined] as const
  ]
  for (const [input, region] of inputs) {
    const r = normalizePhone(input, region)
    if (!r.ok) t.notMatch(r.message, /\d/, `${describe(input, region)} -> ${r.message}`)
  }
})

t.test('normalizePhone never throws', async t => {
  const odd = [
    '', ' ', '+', '00', '++1', '+0', '0', '000000000000', '+00593987654321', '-', '()', '.',
    '😀', '\uD800', '\u0000', 'é', 'null', 'undefined', '٠٩٨٧٦٥٤٣٢١', '+593 ٩٨',
    '9'.repeat(64), '9'.repeat(65), '9'.repeat(10_000), '+'.repeat(100), '0'.repeat(40),
    'tel:+593987654321', '+593987654321;ext=1', '<script>', '1e10', '-1', '0x1F'
  ]
  const regions = [undefined, '', 'EC', 'ec', 'ZZ', '001', 'E', 'ÉC', ' US ', '12']
  for (const input of odd) {
    t.doesNotThrow(() => {
      for (const region of regions) normalizePhone(input, region)
    }, `${describe(input.slice(0, 20))} with every region`)
  }

  // Seeded pseudo-random strings built from digits, separators and junk.
  const chars = '0123456789001599+ -().x#\u00A0\u2013😀'
  let seed = 12345
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  let threw = 0
  for (let i = 0; i < 5000; i++) {
    let s = ''
    const len = next(30)
    for (let j = 0; j < len; j++) s += chars[next(chars.length)]
    try {
      const r = normalizePhone(s, regions[next(regions.length)])
      if (!r.ok && /\d/.test(r.message)) threw++
    } catch {
      threw++
    }
  }
  t.equal(threw, 0, 'no throw and no digits in messages for 5000 random strings')
})

t.test('a number read again gives the same answer, per region and its source; the memory of readings is bounded', async t => {
  // Read twice each: the second answer comes from the remembered reading and must not differ.
  for (const row of accepted.slice(0, 10)) {
    t.same(normalizePhone(row.input, row.region), normalizePhone(row.input, row.region), row.note)
  }
  // One input, three readings: the region and where it came from are part of what is remembered.
  t.equal((normalizePhone('0987654321', 'EC') as { ok: true, phone: { countrySource: string } }).phone.countrySource, 'country-field')
  t.equal((normalizePhone('0987654321', 'EC', 'default-country') as { ok: true, phone: { countrySource: string } }).phone.countrySource, 'default-country')
  t.match(normalizePhone('0987654321'), { ok: false, reason: 'NEEDS_COUNTRY' }, 'without a region it still needs one')
  const shared = normalizePhone('+593 98 765 4321')
  t.ok(Object.isFrozen(shared) && shared.ok && Object.isFrozen(shared.phone), 'a shared reading cannot be changed by one send')
  // Past the bound the oldest readings are dropped, and a dropped number reads the same again.
  const first = normalizePhone('+593 98 700 0000')
  for (let i = 1; i <= PHONE_CACHE_SIZE; i++) normalizePhone(`+593 98 7${String(i).padStart(6, '0')}`)
  const again = normalizePhone('+593 98 700 0000')
  t.not(again, first, 'the oldest reading was dropped (a new object)')
  t.same(again, first, 'and reading it again gives the same answer')
})

t.test('maskPhone', async t => {
  t.equal(maskPhone('593987654321'), '5939******21')
  t.equal(maskPhone('+593 98 765 4321'), '5939******21', 'non-digits are stripped first')
  t.equal(maskPhone('5215512345678'), '5215*******78')
  t.equal(maskPhone('1234567'), '1234*67', 'seven digits')
  t.equal(maskPhone('123456'), '******', 'six digits are fully masked')
  t.equal(maskPhone('12'), '**')
  t.equal(maskPhone(''), '')
  t.equal(maskPhone('abc'), '')
  const masked = maskPhone('593987654321')
  t.notMatch(masked, /98765/, 'middle digits hidden')
})
