// Phone numbers: normalize any common format to Jelou's digits-only form, and mask for logs.

/**
 * Phone number rules (SPEC §6, upstream JELOU_HSM_API §6).
 *
 * Jelou wants the country calling code followed by the national significant number,
 * digits only: no `+`, no spaces, no trunk `0` (Ecuador `09XXXXXXXX` -> `5939XXXXXXXX`).
 * Validation uses libphonenumber-js with the full (`max`) metadata.
 *
 * Accepted input
 * - ASCII digits, an optional leading `+`, and the separators space, `-`, `.`, `(`, `)`, `/`
 *   (Unicode dashes too). Anything else, letters included (no vanity numbers, no
 *   extensions), is NOT_A_NUMBER. Input longer than 64 characters is TOO_LONG unparsed.
 * - `+` or `00` starts an international number. A stray trunk zero right after the
 *   country calling code is dropped (`+593 098 765 4321`, `+44 (0)20 7946 0958`).
 * - Without a region (SPEC §6), only `+`/`00` input or an unformatted digit string
 *   (Jelou's own format, country code first: `593987654321`) is read as international.
 *   Anything formatted like a national number (spaces, dashes, dots, parentheses, slashes)
 *   is NEEDS_COUNTRY: `(201) 555-0123` is valid in Egypt as international digits, and a
 *   message must never go to another country because a local number happened to be valid
 *   there too. A bare digit string starting with a trunk `0` is NEEDS_COUNTRY as well.
 * - Bare digits with a region are read both ways: international, and as a national number
 *   of that region (trunk prefixes, Argentina's mobile `15` and the region's own
 *   international prefix such as `011` in the US are understood by libphonenumber).
 *   When only one reading is accepted, it is used (`4915123456789` with EC is German,
 *   `593987654321` with CO is Ecuadorian). When both are accepted, the national reading
 *   wins, unless the digits start with the region's own country calling code (`593…`
 *   with EC, `1…` with US), where the international reading is kept.
 *   An accepted national reading includes one accepted through an allowance below
 *   (`1 55 1234 5678` with MX is `5215512345678`, MX_521).
 * - Every accepted number says where its country came from (`countrySource`): `prefix`
 *   (`+`, `00` or the region's own international prefix such as `011`), `digits` (an
 *   unformatted digit string read country code first), `country-field` or
 *   `default-country` (read as a national number of that region).
 * - `region` is an ISO 3166-1 alpha-2 code, case-insensitive; an unknown one is
 *   INVALID_COUNTRY whatever the number looks like. An empty region counts as none.
 *
 * Rejections (reason codes)
 * - TOO_SHORT / TOO_LONG: too few / too many digits for the number's country.
 * - INVALID_COUNTRY: unknown region given, or unknown country calling code.
 * - NEEDS_COUNTRY: no region, and the input is formatted, or bare digits with no valid
 *   international reading that look national (trunk `0`, or 6 to 10 digits). Otherwise bare
 *   digits without a region get the reason of their international reading.
 * - NOT_A_NUMBER: empty, letters, or characters other than the ones above.
 * - INVALID_FOR_REGION: parsed, but not a valid number of its country; the message and
 *   `region` name the region assumed (of the calling code, or the one given).
 * Rejection messages are sentences that never contain digits.
 *
 * Allowances: WhatsApp identities that strict metadata rejects but that exist in the
 * wild pass unchanged, flagged with `allowance`. They apply only when strict validation
 * of that reading fails. Between two readings a strictly valid one wins over an
 * allowance, except that with a region a national reading (even through an allowance)
 * wins over a valid foreign international reading, as described above.
 * - MX_521: Mexican number written with the old mobile `1` after the country code
 *   (`52 1` + 10 digits). libphonenumber-js max metadata rejects it as TOO_LONG; it is
 *   kept as `521XXXXXXXXXX` when the same number without the `1` is valid.
 * - BR_NO_NINTH_DIGIT: Brazilian mobile written without the ninth digit (`55` + 2-digit
 *   area code + 8 digits starting 6-9). Strict metadata says INVALID_FOR_REGION; it is
 *   kept as `55AAXXXXXXXX` when inserting a `9` gives a valid mobile number.
 */
import {
  getCountryCallingCode,
  isSupportedCountry,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
  type CountryCode,
  type PhoneNumber
} from 'libphonenumber-js/max'
import { createRequire } from 'node:module'

export type PhoneRejectReason = 'TOO_SHORT' | 'TOO_LONG' | 'INVALID_COUNTRY' | 'NEEDS_COUNTRY' | 'NOT_A_NUMBER' | 'INVALID_FOR_REGION'

/** Where the region of the number came from. */
export type CountrySource = 'prefix' | 'digits' | 'country-field' | 'default-country'
/** Where a region given to normalizePhone came from. */
export type RegionSource = 'country-field' | 'default-country'

export interface NormalizedPhone {
  input: string // exactly what the caller sent
  normalized: string // country calling code + national number, digits only, e.g. '593987654321'
  country: string | null // ISO 3166 alpha-2 region of the number when known (e.g. 'EC'), else null
  countrySource: CountrySource
  allowance?: 'MX_521' | 'BR_NO_NINTH_DIGIT' // set when the number passes only through a documented allowance
}

export type PhoneResult =
  | { ok: true, phone: NormalizedPhone }
  | { ok: false, reason: PhoneRejectReason, message: string, region?: string }

const MAX_INPUT_LENGTH = 64
// Longest digit string that could still be a number: 17-digit national number + trunk prefix.
const MAX_DIGITS = 18
// Fewer digits than this cannot be a phone number in any format.
const MIN_DIGITS = 6
// Bare digit strings up to this length are more likely national than international.
const MAX_NATIONAL_LOOKING_DIGITS = 10

const MESSAGES: Record<PhoneRejectReason, string> = {
  TOO_SHORT: 'The phone number has too few digits.',
  TOO_LONG: 'The phone number has too many digits.',
  INVALID_COUNTRY: 'The phone number has a country calling code that is not recognised.',
  NEEDS_COUNTRY: 'The phone number has no country: write it with + and the country calling code, or give its region in the country field (a two-letter code such as US).',
  NOT_A_NUMBER: 'The phone number is not a number: use digits, an optional leading +, and spaces, dashes, dots or parentheses.',
  INVALID_FOR_REGION: 'The phone number is not a valid number for its country.'
}

// Digits, one optional leading plus, and common separators (incl. Unicode dashes and spaces).
const ALLOWED = /^\+?[\d\s\-.()/\u2010-\u2015\u2212]*$/
const SEPARATORS = /[\s\-.()/\u2010-\u2015\u2212]/g
const MX_521 = /^1\d{10}$/
const BR_NO_NINTH = /^[1-9]{2}[6-9]\d{7}$/

type Allowance = NonNullable<NormalizedPhone['allowance']>

interface Valid {
  kind: 'valid'
  normalized: string
  country: string | null
  source: CountrySource
}

interface Allowed {
  kind: 'allowance'
  normalized: string
  country: string
  source: CountrySource
  allowance: Allowance
}

type Accepted = Valid | Allowed

interface Rejected {
  kind: 'rejected'
  reason: PhoneRejectReason
  /** The region the number was assumed to belong to, when it parsed. */
  region?: string
  source?: CountrySource
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' })

let callingCodes: Record<string, string[] | undefined> | undefined

/**
 * The main region of a calling code (US for 1, GB for 44), as libphonenumber's metadata lists it
 * first. Read on first use only: just an invalid number of a shared calling code needs it.
 */
function mainRegion (callingCode: string): string | undefined {
  callingCodes ??= (createRequire(import.meta.url)('libphonenumber-js/metadata.max.json') as { country_calling_codes: Record<string, string[]> }).country_calling_codes
  return callingCodes[callingCode]?.[0]
}

const SOURCE_PHRASES: Record<CountrySource, string> = {
  prefix: 'the country of its calling code',
  digits: 'the country of its calling code',
  'country-field': 'the region given in the country field',
  'default-country': 'the region set in DEFAULT_COUNTRY'
}

function invalidForRegion (region: string | undefined, source: CountrySource | undefined): string {
  if (region === undefined) return MESSAGES.INVALID_FOR_REGION
  const name = regionNames.of(region) ?? region
  return `The phone number is not a valid number in ${name} (${region}), ${SOURCE_PHRASES[source ?? 'prefix']}.`
}

type Reading = Valid | Allowed | Rejected

const UNKNOWN_REGION_MESSAGE = 'The country given for the phone number is not a known two-letter region code.'

function reject (reason: PhoneRejectReason, message = MESSAGES[reason]): PhoneResult {
  return { ok: false, reason, message }
}

function rejectReading (r: Rejected): PhoneResult {
  if (r.reason !== 'INVALID_FOR_REGION') return reject(r.reason)
  const result: PhoneResult = { ok: false, reason: r.reason, message: invalidForRegion(r.region, r.source) }
  if (r.region !== undefined) result.region = r.region
  return result
}

function parse (text: string, region?: CountryCode): PhoneNumber | PhoneRejectReason {
  try {
    return parsePhoneNumberWithError(text, { defaultCountry: region, extract: false })
  } catch (err) {
    const code = (err as { message?: unknown } | null)?.message
    if (code === 'TOO_SHORT' || code === 'TOO_LONG' || code === 'INVALID_COUNTRY') return code
    return 'NOT_A_NUMBER'
  }
}

function isValid (text: string): PhoneNumber | null {
  const p = parse(text)
  return typeof p !== 'string' && p.isValid() ? p : null
}

function lengthReason (text: string, region?: CountryCode): PhoneRejectReason {
  let r: string | undefined
  try {
    r = validatePhoneNumberLength(text, { defaultCountry: region })
  } catch {
    r = undefined
  }
  if (r === 'TOO_SHORT' || r === 'TOO_LONG' || r === 'INVALID_COUNTRY' || r === 'NOT_A_NUMBER') return r
  return 'INVALID_FOR_REGION'
}

function accepted (p: PhoneNumber, source: CountrySource): Valid {
  return { kind: 'valid', normalized: p.countryCallingCode + p.nationalNumber, country: p.country ?? null, source }
}

/**
 * Evaluates one reading of the input: strict, then stray trunk zero, then allowances.
 * `source` says where the region came from; a national reading that dialled out through the
 * region's international prefix (`011 593…` with US) reports `prefix`.
 */
function read (text: string, source: CountrySource, region?: CountryCode): Reading {
  const p = parse(text, region)
  if (typeof p === 'string') return { kind: 'rejected', reason: p }
  const cc = p.countryCallingCode
  if (region !== undefined && cc !== getCountryCallingCode(region)) source = 'prefix'
  if (p.isValid()) return accepted(p, source)

  const nn = p.nationalNumber

  // Stray trunk zero after the country calling code, when libphonenumber kept it.
  if (nn.startsWith('0')) {
    const q = isValid(`+${cc}${nn.slice(1)}`)
    if (q !== null) return accepted(q, source)
  }

  if (cc === '52' && MX_521.test(nn) && isValid(`+52${nn.slice(1)}`) !== null) {
    return { kind: 'allowance', normalized: cc + nn, country: 'MX', source, allowance: 'MX_521' }
  }
  if (cc === '55' && BR_NO_NINTH.test(nn)) {
    const q = isValid(`+55${nn.slice(0, 2)}9${nn.slice(2)}`)
    if (q !== null && q.getType() === 'MOBILE') {
      return { kind: 'allowance', normalized: cc + nn, country: 'BR', source, allowance: 'BR_NO_NINTH_DIGIT' }
    }
  }

  const assumed = region !== undefined && source !== 'prefix' ? region : (p.country ?? mainRegion(cc))
  return { kind: 'rejected', reason: lengthReason(text, region), region: assumed, source }
}

function ok (input: string, r: Accepted): PhoneResult {
  const phone: NormalizedPhone = { input, normalized: r.normalized, country: r.country, countrySource: r.source }
  if (r.kind === 'allowance') phone.allowance = r.allowance
  return { ok: true, phone }
}

/**
 * How many readings are remembered. libphonenumber costs several µs a number (it builds a regular
 * expression per pattern it tries); a service that writes to the same customers again (an order's
 * updates, a second code) reads each number once per this many distinct ones. About 0.3 KB an
 * entry: 4,096 entries hold about 1.3 MB. Oldest out first.
 */
export const PHONE_CACHE_SIZE = 4096
const readings = new Map<string, PhoneResult>()

/**
 * Normalizes a phone number to Jelou's digits-only international form.
 * `region` (ISO alpha-2, any case) is used for national numbers; `regionSource` says where it
 * came from, for the answer's `countrySource`. Never throws. The result is frozen (it may be
 * shared with the next send of the same input): copy before changing it.
 */
export function normalizePhone (input: string, region?: string, regionSource: RegionSource = 'country-field'): PhoneResult {
  if (typeof input !== 'string') return reject('NOT_A_NUMBER')
  if (input.length > MAX_INPUT_LENGTH) return reject('TOO_LONG')
  const key = `${regionSource}\0${region ?? ''}\0${input}`
  let result = readings.get(key)
  if (result === undefined) {
    result = readPhone(input, region, regionSource)
    if (result.ok) Object.freeze(result.phone)
    Object.freeze(result)
    if (readings.size >= PHONE_CACHE_SIZE) readings.delete(readings.keys().next().value as string)
    readings.set(key, result)
  }
  return result
}

function readPhone (input: string, region: string | undefined, regionSource: RegionSource): PhoneResult {
  let country: CountryCode | undefined
  if (typeof region === 'string' && region.trim() !== '') {
    const upper = region.trim().toUpperCase()
    if (!/^[A-Z]{2}$/.test(upper) || !isSupportedCountry(upper)) return reject('INVALID_COUNTRY', UNKNOWN_REGION_MESSAGE)
    country = upper
  }

  const trimmed = input.trim()
  if (!ALLOWED.test(trimmed)) return reject('NOT_A_NUMBER')
  const plus = trimmed.startsWith('+')
  let digits = trimmed.replace(SEPARATORS, '').replace(/^\+/, '')
  if (digits === '') return reject('NOT_A_NUMBER')

  // `+` or `00`: international only.
  if (plus || digits.startsWith('00')) {
    if (!plus) digits = digits.slice(2)
    if (digits === '') return reject('NOT_A_NUMBER')
    const r = read(`+${digits}`, 'prefix')
    return r.kind === 'rejected' ? rejectReading(r) : ok(input, r)
  }

  // Bare digits with a region: international, and national. When both readings are accepted
  // the national one wins, unless the digits start with the region's own country calling code.
  if (country !== undefined) {
    const intl = read(`+${digits}`, 'digits')
    const national = read(digits, regionSource, country)
    if (intl.kind === 'valid') {
      const ownCode = digits.startsWith(getCountryCallingCode(country))
      return ok(input, national.kind === 'rejected' || ownCode ? intl : national)
    }
    if (national.kind === 'valid') return ok(input, national)
    if (intl.kind === 'allowance') return ok(input, intl)
    if (national.kind === 'allowance') return ok(input, national)
    return rejectReading(national)
  }

  // No region: formatted input looks national and is never guessed into a country (SPEC §6).
  if (digits.length > MAX_DIGITS) return reject('TOO_LONG')
  if (digits.length < MIN_DIGITS) return reject('TOO_SHORT')
  if (digits !== trimmed || digits.startsWith('0')) return reject('NEEDS_COUNTRY')

  // An unformatted digit string is Jelou's own format: country code first.
  const intl = read(`+${digits}`, 'digits')
  if (intl.kind !== 'rejected') return ok(input, intl)
  if (intl.reason === 'TOO_LONG') return reject('TOO_LONG')
  if (digits.length <= MAX_NATIONAL_LOOKING_DIGITS) return reject('NEEDS_COUNTRY')
  return rejectReading(intl)
}

/**
 * Masks a phone number for logs: digits only; with 7 or more digits keeps the first 4
 * and the last 2 (`593987654321` -> `5939******21`), otherwise masks every digit.
 */
export function maskPhone (value: string): string {
  const digits = String(value).replace(/\D/g, '')
  if (digits.length < 7) return '*'.repeat(digits.length)
  return digits.slice(0, 4) + '*'.repeat(digits.length - 6) + digits.slice(-2)
}

/** Mask every run in free text that could be a phone number (7 or more digits, separators allowed). */
export function maskPhonesIn (text: string): string {
  return text.replace(/\+?\d[\d\s().-]{5,}\d/g, maskPhone)
}
