"""A chat corpus the redactor was not written against: Faker's values in fresh templates.

The personal details come from Faker (a dev dependency; the redactor never imports it):
names, addresses, phone numbers, e-mail addresses and card numbers from its ``en_IN``,
``hi_IN``, ``zu_ZA``, ``en_US`` and ``en_GB`` providers, plus ``nl_NL`` names as the nearest
thing Faker has to Afrikaans ones. Faker 40 has no ``en_ZA`` locale, and ``zu_ZA`` falls back
to US phone formats, so South African phone numbers are drawn here from the numbering plan
(mobile 06x-08x, landline 01x-05x) with Faker's digits. What Faker lacks is built here from
published rules, using Faker's randomness: UPI ids (a Faker user name, first name or mobile
number @ a bank handle), RuPay cards (Faker digits, Luhn digit by ``python-stdnum``), and
Aadhaar numbers (Faker's ``aadhaar_id`` fails the Verhoeff check real numbers pass, so its
first 11 digits get the check digit computed by ``python-stdnum``, and a first digit
of 0 or 1, which UIDAI never issues, is redrawn).

The templates (Hinglish, South-African English, US/UK English; lower-case, honorifics and
kin words, possessives, @mentions) were written for this corpus, not taken from the
redactor's tests. Every third message or so is a decoy line with no personal detail but
with things that look like one: order and tracking numbers, PNRs, IFSC codes, prices,
dates, times, OTPs, flight numbers, ISBNs, bare postcodes, and towns, shops and companies
whose names are also people's names.

``generate(n, half)`` splits by seed *and* by template: the ``"tune"`` half and the
``"test"`` half draw from different seeds and from alternate templates, so the test half
also measures phrasings nobody tuned against. Use the tuning half to tune; only ever
measure the test half.

Two more sets, added later (session 5):

* ``"dev"``: tuning data too, in templates of its own (``DEV_*_TEMPLATES``), written to
  check that rules found on the tuning half carry over to phrasings they were not found
  on. Tune on it freely.
* ``"holdout"``: the test half's templates with names from Faker locales that neither the
  tuning nor the test half uses (``HOLDOUT_NAME_LOCALES``: Pakistani, Marathi, Flemish,
  Kenyan, Swahili, New Zealand, Irish and Nigerian names); only ever measured, like the
  test half.

And one more (session 6):

* ``"dev2"``: tuning data in templates written fresh (``DEV2_*_TEMPLATES``), to find
  weaknesses the tuning and dev sets no longer show. Tune on it freely.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker
from stdnum import luhn, verhoeff

HALVES = {"tune": 0, "test": 1, "dev": 2, "holdout": 3, "dev2": 4}
NAME_LOCALES = ("en_IN", "hi_IN", "zu_ZA", "en_US", "en_GB", "nl_NL")
# Hindi in Devanagari appears only in Hindi-script templates; Latin-script templates take
# names from the other locales.
LATIN_NAME_LOCALES = {
    "in": ("en_IN", "en_IN", "en_IN"),
    "za": ("zu_ZA", "zu_ZA", "nl_NL"),
    "us": ("en_US", "en_GB"),
}
# Names for the held-out set, from locales no other set draws from.
HOLDOUT_NAME_LOCALES = {
    "in": ("en_PK",),
    "hi": ("mr_IN",),
    "za": ("nl_BE", "en_KE", "sw"),
    "us": ("en_NZ", "en_IE", "en_NG"),
}
# Real UPI handles of Indian banks and apps (NPCI's list), written here.
UPI_BANKS = (
    *("oksbi", "okaxis", "okhdfcbank", "okicici", "paytm", "ybl", "ibl", "axl", "upi", "apl"),
    *("sbi", "icici", "hdfcbank", "axisbank", "kotak", "yesbank", "fbl", "pthdfc", "ptsbi"),
    *("ptyes", "ptaxis", "waaxis", "wahdfcbank", "jupiteraxis", "freecharge", "airtel"),
    *("barodampay", "idfcbank", "indus", "federal"),
)
# Faker's card types (RuPay is built here), weighted roughly as in Indian and SA wallets.
CARD_TYPES = (
    *("visa16", "visa16", "visa16", "visa19", "mastercard", "mastercard", "amex", "amex"),
    *("diners", "discover", "jcb16", "maestro", "rupay", "rupay"),
)


@dataclass(frozen=True)
class Sample:
    """A chat message, its planted spans ``(start, end, type)`` and, for decoy lines, the
    kinds of decoy it holds (for counting false positives by kind)."""

    text: str
    spans: tuple[tuple[int, int, str], ...]
    decoys: tuple[str, ...] = ()


class _Values:
    """Faker-backed value makers, one Faker per locale, all seeded from one ``seed``."""

    def __init__(self, seed: int, holdout: bool = False) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        extra = sorted({loc for locs in HOLDOUT_NAME_LOCALES.values() for loc in locs})
        for i, loc in enumerate((*NAME_LOCALES, *extra)):
            fk = Faker(loc)
            fk.seed_instance(seed * 31 + i)
            self.fakers[loc] = fk
        self.us = self.fakers["en_US"]
        self.holdout = holdout

    # ---- people

    def _name_locale(self, style: str) -> str:
        if self.holdout:
            return self.rng.choice(HOLDOUT_NAME_LOCALES[style])
        return "hi_IN" if style == "hi" else self.rng.choice(LATIN_NAME_LOCALES[style])

    def first(self, style: str) -> str:
        return self.fakers[self._name_locale(style)].first_name()

    def last(self, style: str) -> str:
        return self.fakers[self._name_locale(style)].last_name()

    def full(self, style: str) -> str:
        fk = self.fakers[self._name_locale(style)]
        return f"{fk.first_name()} {fk.last_name()}"

    # ---- numbers and addresses

    def phone(self, style: str) -> str:
        if style == "za":
            return self._za_phone()
        loc = {"in": "en_IN", "hi": "hi_IN", "us": self.rng.choice(("en_US", "en_GB"))}[style]
        return self.fakers[loc].phone_number()

    def _za_phone(self) -> str:
        fk = self.us
        lead = self.rng.choice("678") + self.rng.choice("123456789")
        if self.rng.random() < 0.2:
            lead = "1" + self.rng.choice("12345")  # Gauteng-ish landline prefixes
        fmt = self.rng.choice(
            ["+27 {a} ### ####", "0{a} ### ####", "0{a}#######", "+27{a}#######", "0{a}-###-####"]
        )
        return fk.numerify(fmt.format(a=lead))

    def address(self, style: str) -> str:
        loc = {"in": "en_IN", "hi": "hi_IN", "za": "zu_ZA"}.get(style)
        if loc is None:
            loc = self.rng.choice(("en_US", "en_GB"))
        fk = self.fakers[loc]
        raw = fk.address() if self.rng.random() < 0.7 else fk.street_address()
        sep = self.rng.choice([", ", ", ", " "])
        return re.sub(r"\s*\n\s*", sep, raw.strip())

    def email(self, style: str) -> str:
        fk = self.fakers[{"hi": "en_IN", "in": "en_IN", "za": "zu_ZA"}.get(style, "en_US")]
        return fk.free_email() if self.rng.random() < 0.6 else fk.email()

    def card(self, style: str) -> str:
        kind = self.rng.choice(CARD_TYPES)
        if kind == "rupay":
            prefix = self.rng.choice(["60", "65", "81", "82", "508"])
            body = prefix + self.us.numerify("#" * (15 - len(prefix)))
            number = body + luhn.calc_check_digit(body)
        else:
            number = self.us.credit_card_number(card_type=kind)
        sizes = {15: [4, 6, 5], 14: [4, 6, 4]}.get(len(number), [4, 4, 4, 4, 4])
        sep = self.rng.choice([" ", " ", "-", ""])
        parts, i = [], 0
        for size in sizes:
            if i < len(number):
                parts.append(number[i : i + size])
            i += size
        return sep.join(parts)

    def upi(self, style: str) -> str:
        fk = self.fakers["en_IN"]
        roll = self.rng.random()
        if roll < 0.35:
            user = fk.user_name()
        elif roll < 0.6:
            user = fk.first_name().lower() + self.rng.choice(["", ".", "_"]) + fk.numerify("##")
        else:
            user = self.rng.choice("6789") + fk.numerify("#########")
        return f"{user}@{self.rng.choice(UPI_BANKS)}"

    def aadhaar(self, style: str) -> str:
        # UIDAI never issues numbers starting 0 or 1; Faker does, so its first digit is
        # redrawn.
        body = self.rng.choice("23456789") + self.fakers["en_IN"].aadhaar_id()[1:11]
        digits = body + verhoeff.calc_check_digit(body)
        return self.rng.choice([" ", " ", "-", ""]).join((digits[:4], digits[4:8], digits[8:]))

    def ssn(self, style: str) -> str:
        return self.us.ssn()

    # ---- decoys (not personal details)

    def decoy(self, kind: str, style: str) -> str:
        fk, r = self.us, self.rng
        loc = {"in": "en_IN", "hi": "hi_IN", "za": "zu_ZA"}.get(style, r.choice(("en_US", "en_GB")))
        match kind:
            case "ORDER":
                return r.choice(
                    [
                        fk.numerify("###-#######-#######"),
                        fk.numerify("OD1##############"),
                        fk.numerify("#########"),
                        fk.bothify("ORD-####-??").upper(),
                    ]
                )
            case "TRACKING":
                return r.choice(
                    [
                        fk.bothify("1Z###?##########").upper(),
                        fk.bothify("??#########IN").upper(),
                        fk.numerify("############"),
                        fk.numerify("7###########"),
                    ]
                )
            case "PNR":
                return r.choice([fk.numerify("%#########"), fk.bothify("??#??#").upper()])
            case "IFSC":
                bank = r.choice(["SBIN", "HDFC", "ICIC", "UTIB", "KKBK", "PUNB", "BARB", "CNRB"])
                return bank + "0" + fk.bothify("######")
            case "PRICE":
                return r.choice(
                    [
                        fk.pricetag(),
                        "Rs. " + fk.numerify("#,###") + "/-",
                        "₹" + fk.numerify("%,###"),
                        "R" + fk.numerify("%##.##"),
                        "£" + fk.numerify("%#.##"),
                        fk.numerify("%###") + " rupees",
                    ]
                )
            case "DATE":
                pattern = r.choice(["%d/%m/%Y", "%d %b", "%Y-%m-%d", "%d-%m-%y", "%B %d, %Y"])
                return fk.date(pattern=pattern)
            case "TIME":
                return fk.time(pattern=r.choice(["%H:%M", "%I:%M %p", "%I.%M"]))
            case "OTP":
                return fk.numerify(r.choice(["######", "####", "### ###"]))
            case "FLIGHT":
                airline = r.choice(["AI", "6E", "UK", "SG", "SA", "FA", "BA", "UA", "DL", "EK"])
                return f"{airline}{r.choice(['', ' '])}{fk.numerify('%##')}"
            case "ISBN":
                return r.choice([fk.isbn13(), fk.isbn10(), fk.isbn13().replace("-", "")])
            case "POSTCODE":
                return self.fakers[loc].postcode()
            case "CITY":
                return self.fakers[loc].city()
            case "COMPANY":
                return self.fakers[loc].company()
        raise ValueError(kind)


# --------------------------------------------------------------------------- templates
#
# Slots: {PERSON} full or first name, {FIRST}, {LAST}, {PERSON_LC} lower-case name,
# {ADDRESS} {PHONE} {EMAIL} {CARD} {UPI} {AADHAAR} {SSN}; decoys {ORDER} {TRACKING} {PNR}
# {IFSC} {PRICE} {DATE} {TIME} {OTP} {FLIGHT} {ISBN} {POSTCODE} {CITY} {COMPANY}.
# Honorifics, kin words and possessive endings are template text, outside the gold span.

PII_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "{FIRST} ji ka number {PHONE} hai, kal call kar lena",
        "bhai mera address note kar: {ADDRESS}",
        "{LAST} ji ko bolo parcel {ADDRESS} pe bhej de",
        "GPay kar do {UPI} pe, {PRICE} ho gaya",
        "paise {UPI} pe daal de yaar",
        "{FIRST} bhai aa gaye kya? unka number {PHONE}",
        "mera card {CARD} hai, expiry {DATE} wala",
        "{PERSON_LC} ko bol de ki kal meeting hai",
        "aaj {FIRST}'s birthday hai, cake le aana",
        "@{FIRST} tu kab aa raha hai",
        "mail kar dena {EMAIL} pe, {FIRST} dekh lega",
        "{PERSON} sir ne bola submission {DATE} tak",
        "aadhaar {AADHAAR} hai mera, KYC ke liye",
        "{FIRST} didi ke ghar jaana hai: {ADDRESS}",
        "uncle ka naam {PERSON} hai, number {PHONE}",
        "{PERSON_LC} bhaiya se baat hui kya?",
        "payment {UPI} pe bhejo ya card {CARD} use karo",
        "{LAST} aunty bol rahi thi {FIRST} late aayega",
        "courier address: {ADDRESS}. call {PHONE} before coming",
        "ye {PERSON}'s number hai {PHONE}, save kar lo",
        "{FIRST} ka email {EMAIL} hai",
        "haan {PERSON_LC} se pooch le, woh jaanta hai",
        "KYC ke liye aadhaar chahiye: {AADHAAR}",
        "ek baar phir se bhejo, aadhaar no {AADHAAR}",
        "{FIRST} ki shaadi {DATE} ko hai, {CITY} mein",
        "kal raat {PERSON_LC} ka phone aaya tha",
        "{LAST} madam ka naya ghar {ADDRESS} mein hai",
        "yaar {FIRST} bol raha tha ki {PERSON} bhi aayega",
        "UPI id {UPI} pe {PRICE} bhej diya, check kar",
        "bhaiya mera number {PHONE} hai, OTP {OTP} aaya",
        "{PERSON_LC}'s mummy ne khana bheja",
        "{FIRST}, {FIRST} aur {FIRST} teeno late aaye",
        "{PERSON_LC} ne bola ki woh nahi aa payega",
        "kal {FIRST} ke saath movie dekhi, mast thi",
        "{FIRST} ka number de do na, {PHONE} lag nahi raha",
        "meri cousin {PERSON} ki shaadi hai next week",
        "{LAST} uncle ko {PRICE} dene hain",
        "rent {UPI} pe bhejna, {FIRST} ne bola",
        "@{FIRST} bhai group mein reply kar",
        "{FIRST} aaj office nahi aayi, tabiyat kharab hai",
        "mera naya pata: {ADDRESS}",
        "{PERSON_LC} tu kidhar hai?",
    ],
    "hi": [
        "{PERSON} जी का नंबर {PHONE} है",
        "पता लिख लो: {ADDRESS}",
        "{FIRST} को बोल देना कल आना है",
        "{LAST} जी से बात हुई, उनका पता {ADDRESS} है",
        "{PERSON} भाई का फ़ोन {PHONE}",
        "कल {FIRST} और {FIRST} दोनों आएँगे",
        "{FIRST} ने कहा कि नया पता {ADDRESS} है",
        "मेरा नंबर {PHONE} है, {FIRST} को दे देना",
        "{PERSON} जी कल आएँगे",
        "{FIRST} भाई ने पैसे भेज दिए",
    ],
    "za": [
        "sawubona {FIRST}, call me on {PHONE} when you're home",
        "the party is at {ADDRESS}, bring ice",
        "sis {FIRST} said she's coming at {TIME}",
        "bra {FIRST}'s number is {PHONE}",
        "please deliver to {ADDRESS} before 5",
        "{PERSON_LC} is fetching the kids today",
        "my card {CARD} got declined at {COMPANY} eish",
        "gogo {LAST} wants us at church on Sunday",
        "tell {PERSON} to email {EMAIL}",
        "oom {FIRST} and tannie {FIRST} are visiting",
        "thanks {PERSON}! see you at {ADDRESS}",
        "{FIRST} from work says hi, her number {PHONE}",
        "ja {PERSON_LC} was there too lol",
        "mama {LAST} needs a lift to {CITY}",
        "send the quote to {EMAIL} and cc {PERSON}",
        "new place: {ADDRESS}. my cell {PHONE}",
        "baba {FIRST} is sick, pray for him",
        "ayt @{FIRST} you owe me R200",
        "I'm with {PERSON} at the braai",
        "{FIRST}'s mom dropped her at {CITY}",
        "hey {PERSON_LC}, can you pay me back? my details: {CARD}",
        "aunty {FIRST} called from {PHONE} again",
        "{PERSON} and {PERSON} are getting married in {CITY}",
        "my flat is {ADDRESS}, buzz twice",
        "uncle {LAST} is at {ADDRESS}",
        "I owe {FIRST}'s brother R500",
        "sharp {PERSON_LC}, see you now now",
        "{FIRST} gaan huis toe, ek bel jou later",
        "just saw {PERSON} at Pick n Pay lol",
        "{PERSON_LC} owes me money eish",
        "can you fetch {FIRST} from school at {TIME}?",
        "{LAST} family is having a braai, address {ADDRESS}",
        "whatsapp {FIRST} on {PHONE}",
        "tannie {FIRST} baked rusks again",
        "{FIRST} and {PERSON_LC} are coming for supper",
        "happy birthday {FIRST}!! 🎉",
        "my EFT details: card {CARD}",
        "yoh {PERSON} is so late",
    ],
    "us": [
        "hey {FIRST}, my new address is {ADDRESS}",
        "call {PERSON} at {PHONE} about the lease",
        "ship it to {ADDRESS} please",
        "card ending... actually here's the full one {CARD}",
        "{PERSON_LC} said the meeting moved to {TIME}",
        "Mr {LAST} wants the forms by {DATE}",
        "my SSN is {SSN}, don't share it",
        "email me at {EMAIL} or text {PHONE}",
        "@{FIRST} are you coming tonight?",
        "{FIRST}'s flat is {ADDRESS}",
        "Aunt {FIRST} sent a card for Christmas",
        "ask {PERSON} for the keys, number is {PHONE}",
        "Dr. {LAST} can see you at {TIME}",
        "visa {CARD} exp 04/29, cvv I'll text",
        "met {PERSON} at the gym today",
        "pls forward to {EMAIL}, thx",
        "{PERSON_LC} and {PERSON_LC} are bringing drinks",
        "our new place is {ADDRESS}, come by Saturday",
        "grandma {FIRST}'s birthday is on {DATE}",
        "you can reach {FIRST} on {PHONE}",
        "ssn {SSN} for the background check",
        "need your social again? it's {SSN}",
        "{PERSON} just texted me from {PHONE}",
        "omg {PERSON_LC} is back in town",
        "coach {LAST} moved practice to {TIME}",
        "{FIRST} and {FIRST} dropped by with {PERSON}",
        "returns go to {ADDRESS}, attn {PERSON}",
        "my mom's cell is {PHONE} if you can't reach me",
        "{PERSON} is picking us up at {TIME}",
        "lol {PERSON_LC} fell asleep again",
        "dinner at {FIRST}'s place on Friday?",
        "reminder: pay {PERSON} back, venmo or card {CARD}",
        "sent the docs to {EMAIL}, cc'd {PERSON}",
        "mail it to {ADDRESS}",
        "thanks so much {FIRST}, you're the best",
        "{FIRST} {LAST} from accounting called",
        "my sister {FIRST} lives at {ADDRESS} now",
        "text {FIRST} at {PHONE}",
    ],
}

DECOY_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "order {ORDER} abhi tak deliver nahi hua",
        "PNR {PNR} confirm ho gaya, coach B2",
        "IFSC code {IFSC} hai, account wahi purana",
        "OTP {OTP} hai, kisi ko mat batana",
        "flight {FLIGHT} delay ho gayi {TIME} tak",
        "{COMPANY} ka delivery kal {DATE} ko aayega",
        "kal {CITY} ja rahe hain, {TIME} ki train",
        "pincode {POSTCODE} serviceable hai kya?",
        "tracking id {TRACKING}, check kar lo",
        "book ka ISBN {ISBN} hai, library mein dekh",
        "total {PRICE} hua, split kar lete hain",
        "{CITY} mein baarish ho rahi hai yaar",
        "{COMPANY} ne refund de diya finally",
        "meeting {DATE} ko {TIME} baje hai",
    ],
    "hi": [
        "ऑर्डर {ORDER} अभी तक नहीं आया",
        "PNR {PNR} कन्फ़र्म हो गया",
        "OTP {OTP} किसी को मत बताना",
        "कल {CITY} जा रहे हैं",
    ],
    "za": [
        "order {ORDER} still hasn't arrived",
        "load shedding in {CITY} again from {TIME}",
        "{COMPANY} has a special, {PRICE} only",
        "my OTP is {OTP}? no wait don't send it",
        "flight {FLIGHT} lands at {TIME}",
        "postal code is {POSTCODE} I think",
        "tracking number {TRACKING} says out for delivery",
        "we're driving to {CITY} on {DATE}",
        "paid {PRICE} at {COMPANY} lol",
        "the book's ISBN is {ISBN}",
        "ref {ORDER} for the traffic fine",
        "{CITY} was lekker this weekend",
    ],
    "us": [
        "order #{ORDER} shipped today",
        "tracking {TRACKING}, should be here by {DATE}",
        "flight {FLIGHT} boards at {TIME}",
        "zip is {POSTCODE} right?",
        "it was {PRICE} at {COMPANY}",
        "confirmation code {PNR}",
        "your code is {OTP}",
        "ISBN {ISBN} for the textbook",
        "we moved to {CITY} last year",
        "{COMPANY} is hiring again",
        "dinner at {TIME} on {DATE}?",
        "traffic around {CITY} was awful",
    ],
}
# Tuning data in phrasings of their own (see the module docstring).
DEV_PII_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "arre {FIRST}, kal ka plan pakka na?",
        "{PERSON_LC} ke ghar chalte hain, address {ADDRESS}",
        "maine {FIRST} ko bola tha ki {TIME} tak aa jana",
        "{FIRST} se baat kar, uska number {PHONE} hai",
        "shukriya {FIRST} ji, aapne bahut help ki",
        "hum log {PERSON} ke saath lunch pe hain",
        "{LAST} sahab ka parcel {ADDRESS} pe gaya",
        "yaar {PERSON_LC} ka kya scene hai aajkal",
        "@{FIRST} bro kal ka match dekha?",
        "mere dost {FIRST} ki job lag gayi",
        "{FIRST} didi ne {PRICE} bheje {UPI} pe",
        "bhabhi ka naam {PERSON} hai, card {CARD}",
        "Happy anniversary {FIRST} aur {FIRST}!",
        "{PERSON_LC} bhai tension mat le",
        "pls {FIRST} ko forward karo, mail {EMAIL}",
        "kal {PERSON_LC} aayega ghar pe",
        "bhai {PERSON_LC} bhi chalega kya trip pe?",
        "wo {FIRST} hai na, uski sister ki shaadi hai",
        "group mein {FIRST} ko add karo",
        "{PERSON_LC} aur main kal mall gaye the",
        "ek kaam kar, {FIRST} ko {PHONE} pe call kar",
        "ye lo {PERSON_LC} ka address: {ADDRESS}",
        "sorry {PERSON_LC}, kal nahi aa paunga",
        "{FIRST} bhaiya ka UPI {UPI} hai",
        "office mein {PERSON} naya aaya hai",
        "maa bol rahi thi {FIRST} mausi aa rahi hain",
        "pata hai {PERSON_LC} ne kya kiya aaj?",
        "{LAST}ji ka phone aaya tha",
        "ok {FIRST}, main 5 min mein aata hoon",
        "gift {FIRST} ke liye liya, {PRICE} ka",
        "{PERSON_LC} didi ne recipe bheji",
        "regards, {PERSON}",
        "kya {FIRST} ne fees bhar di?",
        "{FIRST}?? kahan ho",
        "tum {PERSON_LC} ko jaante ho kya",
        "{FIRST} madam ne homework diya hai",
        "mujhe {PERSON_LC} pe bharosa nahi",
        "kitne log aa rahe? {FIRST}, {FIRST} aur main",
        "{PERSON} ka reply aaya?",
        "main aur {PERSON_LC} movie ja rahe hain",
        "bro {FIRST} ko bhi bula le",
        "{PERSON_LC} bol raha tha ki party hai",
        "haan {FIRST} ji, main pahunch gaya",
        "kisi ne {PERSON_LC} ko dekha?",
        "{FIRST} ke papa ka number {PHONE}",
    ],
    "hi": [
        "{FIRST} जी को नमस्ते कहना",
        "{PERSON} का पता {ADDRESS} है",
        "आज {FIRST} से मिला",
        "{FIRST} और मैं कल बाज़ार गए",
        "मेरी बहन {FIRST} की शादी है",
        "धन्यवाद {FIRST} जी",
        "{PERSON} को फ़ोन करो",
    ],
    "za": [
        "morning {FIRST}! did you get my message?",
        "{FIRST} is at the clinic, her cell is {PHONE}",
        "eish {PERSON_LC} forgot the keys again",
        "ma {LAST} says the meeting is at {ADDRESS}",
        "go with {FIRST} to the taxi rank",
        "I told {PERSON} about the stokvel",
        "sorry {FIRST}, I'm running late",
        "{PERSON}'s wedding is in {CITY} next month",
        "my neighbour {FIRST} fixed the geyser",
        "lol {FIRST} and {FIRST} are so dramatic",
        "please pay into card {CARD} and send pop to {EMAIL}",
        "baie dankie {FIRST}, jy is 'n ster",
        "ask mam {LAST} for the form",
        "{FIRST} texted from {PHONE}, who is this?",
        "ngiyabonga {PERSON_LC}, ubusuku obuhle",
        "wena {FIRST} where are you?",
        "kids are with {PERSON_LC} this weekend",
        "{PERSON_LC} my bru, the match is on",
        "did {FIRST} pay you back yet?",
        "so {PERSON} is coming or not?",
        "{FIRST} en {FIRST} kom vanaand kuier",
        "give the money to {FIRST} and she'll sort it",
        "it's {PERSON_LC}'s turn to drive",
        "we're at {PERSON}'s house, {ADDRESS}",
        "dankie {FIRST}, sien jou more",
        "apparently {PERSON_LC} got the job",
        "lunch with {FIRST}, {FIRST} and {PERSON} tomorrow",
        "{FIRST}!!! you won't believe this",
        "love, {FIRST}",
        "this is {PERSON}, I got your number from {FIRST}",
        "bring the chairs for {PERSON_LC}",
        "{PERSON_LC}, call me when you land",
        "yebo {FIRST}, I'm coming",
        "I'm {FIRST}'s sister, we met at the braai",
        "{FIRST} is my cousin from {CITY}",
        "who's {PERSON}?",
        "me and {PERSON_LC} are going to the mall",
        "heita {FIRST}! long time",
        "{PERSON} won the raffle haha",
        "please send {FIRST}'s email, {EMAIL} bounced",
        "waiting for {PERSON_LC} at the taxi rank",
        "{FIRST} said we must meet at {ADDRESS}",
        "howzit {PERSON_LC}",
        "ask {LAST} from accounts",
    ],
    "us": [
        "good morning {FIRST}, coffee later?",
        "{PERSON} left a voicemail from {PHONE}",
        "my roommate {FIRST} is moving to {ADDRESS}",
        "can you ask {FIRST} if the offer stands?",
        "ms. {LAST} graded the essays already",
        "happy bday {PERSON_LC}!!",
        "{FIRST} wants the invoice at {EMAIL}",
        "went hiking with {PERSON} and {FIRST}",
        "cc {PERSON} on the thread pls",
        "thx {FIRST}, got it",
        "{PERSON_LC} is the new manager btw",
        "package goes to {ADDRESS}, leave at door",
        "is {FIRST} still dating {PERSON}?",
        "card on file is {CARD}",
        "saw {PERSON_LC} at target lol",
        "{FIRST} says hi btw",
        "we should invite {PERSON} and {PERSON}",
        "wait is {PERSON_LC} coming??",
        "talked to {FIRST} about it, she's fine",
        "it's {FIRST}'s turn to host",
        "{PERSON_LC} owes me 20 bucks",
        "shoutout to {PERSON} for the ride",
        "love you {PERSON_LC}",
        "just got off the phone with {PERSON}",
        "{PERSON} from the dentist's office called, {PHONE}",
        "send it to {FIRST}, not me",
        "- {FIRST}",
        "thanks, {PERSON}",
        "omg {PERSON_LC} just called me",
        "hi, I'm {PERSON}, the new tenant",
        "the kids love {FIRST} so much",
        "tell {PERSON_LC} I said congrats",
        "Mrs. {LAST} canceled class",
        "{PERSON_LC} and i are going to the game",
        "I think {PERSON} is right",
        "has anyone heard from {FIRST}?",
        "{FIRST} & {FIRST} are hosting this year",
        "ugh {PERSON_LC} again",
        "my boss {PERSON} wants a report by {DATE}",
        "dinner with {LAST}s on Sunday",
        "{FIRST} can't make it tonight",
        "I'll ask {PERSON_LC} tomorrow",
        "as {FIRST} said, it's fine",
        "congrats to {PERSON} on the promotion!",
    ],
}
DEV_DECOY_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "Swiggy order {ORDER} cancel ho gaya",
        "{CITY} wala flat {PRICE} ka hai",
        "yaar {COMPANY} ka customer care bekaar hai",
        "{CITY} se {CITY} ki bus {TIME} baje",
        "IRCTC PNR {PNR} waiting list mein hai",
        "kal {DATE} ko bank band hai, IFSC {IFSC}",
    ],
    "hi": ["{CITY} में मौसम अच्छा है"],
    "za": [
        "{CITY} to {CITY} is three hours",
        "Checkers in {CITY} has {PRICE} specials",
        "{COMPANY} sent the quote, ref {ORDER}",
        "sho, {CITY} traffic is mad today",
        "ons ry {CITY} toe op {DATE}",
        "my flight {FLIGHT} from {CITY} is delayed",
    ],
    "us": [
        "{COMPANY} raised prices to {PRICE}",
        "{CITY} has the best tacos",
        "the {COMPANY} office in {CITY} closed",
        "meeting moved to {DATE} {TIME}, room code {OTP}",
        "delivery window {TIME} on {DATE}, tracking {TRACKING}",
        "heading to {CITY} for the weekend",
    ],
}
# A second tuning set (session 6), written fresh to find weaknesses the first two sets no
# longer show: names that are also words or towns, lower-case names, plural surnames,
# possessives, names opening or closing a line, names next to towns and shops.
DEV2_PII_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "{FIRST} abhi tak reply nahi kiya",
        "maine {PERSON_LC} ko paise de diye the",
        "kal {LAST} family dinner pe aa rahi hai",
        "{PERSON_LC} ne naya phone liya, {PHONE}",
        "suno, {FIRST} ka result aa gaya",
        "bhai {FIRST} ke bina party nahi hogi",
        "{PERSON} ko office mein promotion mila",
        "{FIRST} mam ne assignment extend kiya",
        "tu aur {PERSON_LC} kal aa jao",
        "{PERSON_LC} ka birthday kab hai?",
        "jaldi bolo {FIRST}, time nahi hai",
        "{FIRST} chacha ne {ADDRESS} pe naya ghar liya",
        "{PERSON}, kal ki meeting cancel hai",
        "aaj {PERSON_LC} se mila market mein",
        "{LAST}s ke yahan pooja hai kal",
        "main {FIRST} ke saath hoon, tension mat lo",
        "mera beta {FIRST} class 5 mein hai",
        "{FIRST} ka phone switch off aa raha hai",
        "{PERSON_LC} bhi group mein hai na?",
        "good night {PERSON_LC}",
        "{FIRST} ki mummy bahut acha khana banati hain",
        "coaching wale {PERSON} sir ka number {PHONE}",
        "thank you {FIRST} for the gift!",
        "{FIRST} is coming to the wedding right?",
        "bhai {PERSON_LC} ka UPI {UPI} hai, paise bhej",
        "{FIRST} aur {FIRST} ka breakup ho gaya",
        "mujhe {FIRST} ne bataya ki exam postpone ho gaya",
        "{PERSON} ka naya address: {ADDRESS}",
    ],
    "hi": [
        "{FIRST} कल घर आएगी",
        "{PERSON} ने पैसे भेज दिए",
        "मैं {FIRST} के साथ हूँ",
        "{FIRST} का फ़ोन नहीं लग रहा",
        "{PERSON} जी को धन्यवाद बोलना",
    ],
    "za": [
        "{FIRST} just landed, fetching her now",
        "the {LAST}s are moving to {CITY}",
        "{PERSON_LC} can't make it to the stokvel",
        "my aunt {FIRST} makes the best koeksisters",
        "{FIRST} said the cheque bounced",
        "I'm going with {PERSON_LC} to the clinic",
        "{FIRST}'s car broke down again",
        "ag {FIRST} man, you never listen",
        "shame {PERSON_LC} lost her job",
        "{PERSON} is the new chairperson",
        "tell {FIRST} the taxi leaves at {TIME}",
        "pls send me {PERSON_LC}'s number",
        "{FIRST} {LAST} got married last week",
        "okay {FIRST}, see you later",
        "our neighbour {PERSON} has a new dog",
        "{FIRST} & {PERSON_LC} are hosting the braai",
        "I'll ask {FIRST} to bring the speaker",
        "{PERSON_LC} lol you're crazy",
        "hey {FIRST} are you coming to church?",
        "{FIRST} and I are at the mall",
        "gogo {FIRST} is turning 80",
        "{PERSON} owes the stokvel R500",
        "lekker {FIRST}, thanks for the lift",
        "was that {PERSON_LC} at the shops?",
        "{FIRST} said her address is {ADDRESS}",
        "{FIRST} won't answer her phone",
        "so proud of {FIRST}!",
        "{FIRST}, {FIRST} and {FIRST} passed matric",
    ],
    "us": [
        "{FIRST} is bringing the potato salad",
        "just saw {PERSON_LC} at costco",
        "the {LAST}s invited us for thanksgiving",
        "{FIRST} wants to know if you're free",
        "ask {PERSON_LC} about the tickets",
        "{PERSON} quit her job lol",
        "{FIRST}'s dog got out again",
        "happy retirement {PERSON}!",
        "me and {FIRST} are at the bar",
        "{PERSON_LC} is so annoying sometimes",
        "can {FIRST} borrow your car?",
        "I ran into {PERSON} at the airport",
        "{FIRST} got into Stanford!!",
        "did you hear about {PERSON_LC}?",
        "{FIRST}, are you up?",
        "yeah {PERSON_LC} told me already",
        "{PERSON} is hosting book club",
        "my coworker {FIRST} recommended it",
        "{FIRST} and {FIRST} broke up",
        "night {FIRST}, sleep well",
        "{LAST} is out sick today",
        "prof {LAST} extended the deadline",
        "{PERSON}'s wedding was beautiful",
        "{FIRST} moved to {ADDRESS} last month",
        "we owe {FIRST} dinner",
        "where's {FIRST}?",
        "I'm picking up {PERSON_LC} at {TIME}",
        "who invited {PERSON}??",
    ],
}
DEV2_DECOY_TEMPLATES: dict[str, list[str]] = {
    "in": [
        "{CITY} ka weather kaisa hai?",
        "{COMPANY} ki sale {DATE} se shuru",
        "Zomato order {ORDER}, {PRICE} ka bill",
        "{CITY} station pe milte hain {TIME} baje",
        "PNR {PNR}, seat confirm nahi hui",
    ],
    "hi": ["{CITY} की ट्रेन {TIME} बजे है"],
    "za": [
        "{CITY} mall is packed today",
        "{COMPANY} still hasn't paid, invoice {ORDER}",
        "petrol in {CITY} is {PRICE} now",
        "bus from {CITY} leaves {TIME}",
        "{COMPANY} delivered on {DATE}",
    ],
    "us": [
        "{CITY} is gorgeous in the fall",
        "{COMPANY} stock dropped again",
        "layover in {CITY}, flight {FLIGHT}",
        "{COMPANY} charged me {PRICE} twice",
        "moving from {CITY} on {DATE}",
    ],
}
STYLE_WEIGHTS = {"in": 0.35, "hi": 0.08, "za": 0.3, "us": 0.27}

_SLOT = re.compile(r"\{([A-Z_]+)\}")


def _person_value(values: _Values, slot: str, style: str) -> str:
    if slot == "PERSON":
        return values.full(style) if values.rng.random() < 0.5 else values.first(style)
    if slot == "FIRST":
        return values.first(style)
    if slot == "LAST":
        return values.last(style)
    name = values.full(style) if values.rng.random() < 0.4 else values.first(style)
    return name.lower()  # PERSON_LC


def _render(template: str, values: _Values, style: str) -> Sample:
    makers: dict[str, Callable[[str], str]] = {
        "ADDRESS": values.address,
        "PHONE": values.phone,
        "EMAIL": values.email,
        "CARD": values.card,
        "UPI": values.upi,
        "AADHAAR": values.aadhaar,
        "SSN": values.ssn,
    }
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    decoys: list[str] = []
    pos = 0
    length = 0
    for m in _SLOT.finditer(template):
        literal = template[pos : m.start()]
        out.append(literal)
        length += len(literal)
        slot = m.group(1)
        if slot in ("PERSON", "FIRST", "LAST", "PERSON_LC"):
            value, kind = _person_value(values, slot, style), "PERSON"
        elif slot in makers:
            value, kind = makers[slot](style), slot
        else:
            value, kind = values.decoy(slot, style), ""
            decoys.append(slot)
        if kind:
            spans.append((length, length + len(value), kind))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return Sample("".join(out), tuple(spans), tuple(decoys))


def templates(half: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The templates of one set: alternate entries of every list for the halves (the
    held-out set uses the test half's), ``DEV_*`` for the dev set."""
    if half == "dev":
        return DEV_PII_TEMPLATES, DEV_DECOY_TEMPLATES
    if half == "dev2":
        return DEV2_PII_TEMPLATES, DEV2_DECOY_TEMPLATES
    k = HALVES[half] % 2
    pii = {style: lst[k::2] for style, lst in PII_TEMPLATES.items()}
    decoy = {style: lst[k::2] for style, lst in DECOY_TEMPLATES.items()}
    return pii, decoy


def generate(n: int, half: str = "tune", seed: int = 0) -> list[Sample]:
    """``n`` messages of one half (``"tune"`` or ``"test"``), deterministic per ``seed``.

    About 60% carry personal details, the rest are decoy lines. The halves never share a
    seed or a template.
    """
    if half not in HALVES:
        raise ValueError(f"half must be one of {sorted(HALVES)}, not {half!r}")
    # Seeds 1, 2 (mod 2) as before for the halves; the other sets take seeds of their own.
    values = _Values(seed * 2 + HALVES[half] + 1 + 1000 * (HALVES[half] // 2), half == "holdout")
    pii, decoy = templates(half)
    styles = list(STYLE_WEIGHTS)
    weights = list(STYLE_WEIGHTS.values())
    out: list[Sample] = []
    for _ in range(n):
        style = values.rng.choices(styles, weights)[0]
        pool = pii[style] if values.rng.random() < 0.6 else decoy[style]
        out.append(_render(values.rng.choice(pool), values, style))
    return out
