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
 * - Bare digits without a region are read as international only (as if prefixed with `+`).
 * - Bare digits with a region are read both ways: international, and as a national number
 *   of that region (trunk prefixes, Argentina's mobile `15` and the region's own
 *   international prefix such as `011` in the US are understood by libphonenumber).
 *   When only one reading is accepted, it is used (`4915123456789` with EC is German,
 *   `593987654321` with CO is Ecuadorian). When both are accepted, the national reading
 *   wins, unless the digits start with the region's own country calling code (`593…`
 *   with EC, `1…` with US), where the international reading is kept.
 *   Why: many national numbers are also valid numbers of another country when read as
 *   international (`(201) 555-0123` with US would be Egypt, `321 123 4567` with CO
 *   Belgium, `15123456789` with DE the US, `1 55 1234 5678` with MX the US).
 *   A WhatsApp message sent to the wrong person is worse than following the SPEC §6
 *   wording ("international first") literally, so this is a documented deviation from it:
 *   international still comes first whenever the national reading is not a number.
 *   An accepted national reading includes one accepted through an allowance below
 *   (`1 55 1234 5678` with MX is `5215512345678`, MX_521).
 * - `region` is an ISO 3166-1 alpha-2 code, case-insensitive; an unknown one is
 *   INVALID_COUNTRY whatever the number looks like. An empty region counts as none.
 *
 * Rejections (reason codes)
 * - TOO_SHORT / TOO_LONG: too few / too many digits for the number's country.
 * - INVALID_COUNTRY: unknown region given, or unknown country calling code.
 * - NEEDS_COUNTRY: bare digits, no region, no valid international reading, and the
 *   digits look national (trunk `0`, or 6 to 10 digits). Otherwise bare digits without a
 *   region get the reason of their international reading.
 * - NOT_A_NUMBER: empty, letters, or characters other than the ones above.
 * - INVALID_FOR_REGION: parsed, but not a valid number of its country.
 * Rejection messages are fixed sentences that never contain digits.
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

export type PhoneRejectReason = 'TOO_SHORT' | 'TOO_LONG' | 'INVALID_COUNTRY' | 'NEEDS_COUNTRY' | 'NOT_A_NUMBER' | 'INVALID_FOR_REGION'

export interface NormalizedPhone {
  input: string // exactly what the caller sent
  normalized: string // country calling code + national number, digits only, e.g. '593987654321'
  country: string | null // ISO 3166 alpha-2 region of the number when known (e.g. 'EC'), else null
  allowance?: 'MX_521' | 'BR_NO_NINTH_DIGIT' // set when the number passes only through a documented allowance
}

export type PhoneResult =
  | { ok: true, phone: NormalizedPhone }
  | { ok: false, reason: PhoneRejectReason, message: string }

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
  INVALID_COUNTRY: 'The country calling code of the phone number is not recognised.',
  NEEDS_COUNTRY: 'The phone number looks national; add the country calling code or give a country.',
  NOT_A_NUMBER: 'The value is not a phone number.',
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
}

interface Allowed {
  kind: 'allowance'
  normalized: string
  country: string
  allowance: Allowance
}

type Accepted = Valid | Allowed

interface Rejected {
  kind: 'rejected'
  reason: PhoneRejectReason
}

type Reading = Valid | Allowed | Rejected

const UNKNOWN_REGION_MESSAGE = 'The country given for the phone number is not a known two-letter region code.'

function reject (reason: PhoneRejectReason, message = MESSAGES[reason]): { ok: false, reason: PhoneRejectReason, message: string } {
  return { ok: false, reason, message }
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

function accepted (p: PhoneNumber): Valid {
  return { kind: 'valid', normalized: p.countryCallingCode + p.nationalNumber, country: p.country ?? null }
}

/** Evaluates one reading of the input: strict, then stray trunk zero, then allowances. */
function read (text: string, region?: CountryCode): Reading {
  const p = parse(text, region)
  if (typeof p === 'string') return { kind: 'rejected', reason: p }
  if (p.isValid()) return accepted(p)

  const cc = p.countryCallingCode
  const nn = p.nationalNumber

  // Stray trunk zero after the country calling code, when libphonenumber kept it.
  if (nn.startsWith('0')) {
    const q = isValid(`+${cc}${nn.slice(1)}`)
    if (q !== null) return accepted(q)
  }

  if (cc === '52' && MX_521.test(nn) && isValid(`+52${nn.slice(1)}`) !== null) {
    return { kind: 'allowance', normalized: cc + nn, country: 'MX', allowance: 'MX_521' }
  }
  if (cc === '55' && BR_NO_NINTH.test(nn)) {
    const q = isValid(`+55${nn.slice(0, 2)}9${nn.slice(2)}`)
    if (q !== null && q.getType() === 'MOBILE') {
      return { kind: 'allowance', normalized: cc + nn, country: 'BR', allowance: 'BR_NO_NINTH_DIGIT' }
    }
  }

  return { kind: 'rejected', reason: lengthReason(text, region) }
}

function ok (input: string, r: Accepted): PhoneResult {
  const phone: NormalizedPhone = { input, normalized: r.normalized, country: r.country }
  if (r.kind === 'allowance') phone.allowance = r.allowance
  return { ok: true, phone }
}

/**
 * Normalizes a phone number to Jelou's digits-only international form.
 * `region` (ISO alpha-2, any case) is used for national numbers. Never throws.
 */
export function normalizePhone (input: string, region?: string): PhoneResult {
  if (typeof input !== 'string') return reject('NOT_A_NUMBER')
  if (input.length > MAX_INPUT_LENGTH) return reject('TOO_LONG')

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
    const r = read(`+${digits}`)
    return r.kind === 'rejected' ? reject(r.reason) : ok(input, r)
  }

  // Bare digits: international, and national when a region is known. When both readings
  // are accepted the national one wins, unless the digits start with the region's own
  // country calling code (see the module comment: deviation from SPEC §6 wording).
  const intl = read(`+${digits}`)
  if (country !== undefined) {
    const national = read(digits, country)
    if (intl.kind === 'valid') {
      const ownCode = digits.startsWith(getCountryCallingCode(country))
      return ok(input, national.kind === 'rejected' || ownCode ? intl : national)
    }
    if (national.kind === 'valid') return ok(input, national)
    if (intl.kind === 'allowance') return ok(input, intl)
    if (national.kind === 'allowance') return ok(input, national)
    return reject(national.reason)
  }
  if (intl.kind === 'valid' || intl.kind === 'allowance') return ok(input, intl)

  // No region and no international reading: pick the most telling reason.
  if (intl.reason === 'TOO_LONG' || digits.length > MAX_DIGITS) return reject('TOO_LONG')
  if (digits.length < MIN_DIGITS) return reject('TOO_SHORT')
  if (digits.startsWith('0') || digits.length <= MAX_NATIONAL_LOOKING_DIGITS) {
    return reject('NEEDS_COUNTRY')
  }
  return reject(intl.reason)
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
