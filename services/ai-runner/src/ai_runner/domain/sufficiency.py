"""Whether an answer says enough to be scored at all (pure, no I/O). An answer that is empty,
too short, garbled or not in the interview's language gets the verdict `insufficient` with a
reason a person can read, never a made-up number from a grader asked to score it anyway.

The tests are deliberately plain and explainable:
- empty: nothing but whitespace;
- too short: fewer than MIN_WORDS words for a behavioural answer (a story needs a situation,
  an action and a result);
- garbled: fewer than half of the words look like words (letters of one alphabet, a vowel,
  no long runs of one character), the text is mostly not letters, or the words do not hold
  together as sentences (too few of the function words - articles, pronouns, prepositions,
  auxiliaries - that make up a third or more of any English prose), or not one subject
  pronoun or form of "be", "have", "do" or a modal verb in all its words (every English
  sentence that tells something has one; a list of real words does not);
- not English (the interview's language): most letters outside the Latin alphabet, or the
  text's function words fit another language's profile better than English's. Each language
  is a list of its commonest function words; the share of the answer's words found in each
  list is compared, so a Portuguese answer that happens to contain "a" and "do" still reads
  as Portuguese, where asking "are some English words present" took it for English.
"""

from __future__ import annotations

import re

MIN_WORDS = 12
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_VOWELS = frozenset("aeiouyAEIOUY")
_RUN = re.compile(r"(.)\1{3,}")
# the commonest function words of each language (closed-class words: articles, pronouns,
# prepositions, conjunctions, auxiliaries), lower case; a word may belong to several
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(text.split())
    for lang, text in {
        "English": "a an and the i we my our me us you your to of in on at for with was were is "
        "are be been it its that this these those they he she him her them their had have has "
        "did do does not but so as by from or when then what which who how after before "
        "because about into over than there if would could should will can all no some any "
        "up out one just also only very",
        "Spanish": "el la los las un una unos unas y e o de del en con por para que se su sus "
        "mi mis es son era fue fueron estaba estaban como más pero al lo le les yo nosotros "
        "tuve hice muy sin sobre entre también cuando porque ya",
        "Portuguese": "o a os as um uma uns umas e ou de do da dos das em no na nos nas com por "
        "para que se seu sua meu minha é são era foi estava estavam como mais mas ao à eu "
        "nós ele ela não muito sem sobre também quando porque já",
        "French": "le la les un une des et ou de du au aux en dans sur avec par pour que qui ne "
        "pas se sa son ses mon ma mes est sont était été a ai avons comme plus mais je nous "
        "il elle lui leur très sans aussi quand parce",
        "German": "der die das den dem des ein eine einen einem einer und oder zu von mit für "
        "auf an im in ist sind war waren wurde hat habe haben hatte ich wir er sie es nicht "
        "auch aber wie als dass sich mein meine unser unsere noch nach bei aus",
        "Italian": "il lo la i gli le un uno una e o di del della dei delle in nel nella con "
        "per da che si suo sua mio mia è sono era erano stato ho abbiamo ha come più ma al "
        "alla io noi lui lei non molto anche quando perché",
        "Dutch": "de het een en of van in op met voor aan dat die dit is zijn was waren heb "
        "heeft hebben had ik wij we hij zij ze niet ook maar als bij naar om uit",
        "Polish": "i w z na do że się nie to jest był była było są o od po za przez dla jak "
        "ale a czy ja my on ona oni mój moja moje nasz nasza już tak bardzo też co",
    }.items()
}
# English prose has a third or more of these words; word lists and keyword salads far fewer
MIN_FUNCTION_SHARE = 0.15
# a sentence's subject or its finite verb: at least one in any English text that says something
_CLAUSE_CUES = frozenset(
    "i we he she they you it is are am was were be been had have has did do does will would "
    "can could should".split()
)


def _looks_like_a_word(word: str) -> bool:
    return (
        len(word) <= 20
        and (len(word) <= 3 or any(c in _VOWELS for c in word))
        and not _RUN.search(word.lower())
    )


def insufficient_reason(answer: str, *, coding: bool = False) -> str | None:
    """Why `answer` cannot be scored, or None when it can."""
    text = answer.strip()
    if not text:
        return "The answer is empty."
    if coding:
        return None  # code is judged by its tests; the judge explains what it lacks
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS:
        return (
            f"The answer is too short to score ({len(words)} words): tell what happened, what "
            f"you did and how it ended, in at least {MIN_WORDS} words."
        )
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii() or "\u00c0" <= c <= "\u024f")
    if letters and latin / len(letters) < 0.5:
        return "The answer is not in English, the language of this interview."
    if len(letters) < 0.5 * len(text.replace(" ", "")):
        return "The answer is mostly not words, so there is nothing to score."
    wordlike = sum(1 for w in words if _looks_like_a_word(w))
    if wordlike < 0.5 * len(words):
        return "The answer does not read as sentences, so there is nothing to score."
    lower = [w.lower() for w in words]
    shares = {
        lang: sum(1 for w in lower if w in vocabulary) / len(lower)
        for lang, vocabulary in FUNCTION_WORDS.items()
    }
    best = max(shares, key=lambda lang: (shares[lang], lang == "English"))
    if best != "English" and shares[best] >= MIN_FUNCTION_SHARE:
        return (
            f"The answer reads as {best}, not English, the language of this interview, so "
            "there is nothing to score."
        )
    if shares["English"] < MIN_FUNCTION_SHARE or not any(w in _CLAUSE_CUES for w in lower):
        return (
            "The answer does not read as English sentences (a list of words is not an "
            "answer), so there is nothing to score."
        )
    return None
