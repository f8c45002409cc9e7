"""Behavioural answers, read for what they show (pure apart from the embedding model).

- Sentences addressed to the grader are left out before anything is measured (see
  `injection`); a sentence said twice counts once.
- Each rubric dimension is scored 0-100 from structural signals of the remaining sentences,
  the same for every question: context anchored in time and place, the candidate's own
  responsibility, first-person actions in the past tense ("I proposed" counts more than
  "we"), reasons, outcomes and how they were measured, concrete figures and names, who else
  was affected, and reflection that names a change in how the candidate works. General
  statements of what one usually does or believes ("I always listen", "communication is
  key") are not a story and count against it.
- How much the answer is about the question is measured by meaning (`relevance`) and
  scales every dimension: a strong story told for another question scores low.
- Length caps what an answer can show; a very short one cannot score well.
- Every dimension quotes 1-3 sentences (or clauses) copied verbatim from the answer; one
  with nothing to quote stays at or below the guard's no-evidence cap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts.events import AnswerResult, BehavioralQuestionSnapshot, DimensionScore

from ai_runner.adapters.offline_grader import relevance
from ai_runner.adapters.offline_grader.injection import split_sentences, unique_sentences
from ai_runner.adapters.offline_grader.text import Sentence, clamp, one_line, quotes
from ai_runner.domain import guard

MOSTLY_INJECTION_CAP = 20
INJECTION_FACTOR = 0.6  # an attempt to talk the score up costs part of what the rest shows

# relevance: how much the answer is about the question (relevance.topicality) mapped to
# 0..1 between these two points, then to a multiplier of every dimension from RELEVANCE_FLOOR
# (set on both tuning sets when the question lost its every-rubric component, offline-rubric-4)
OFF_TOPIC_TOPICALITY = 0.19
ON_TOPIC_TOPICALITY = 0.32
RELEVANCE_FLOOR = 0.0
OFF_TOPIC = 0.35  # below this share of relevance the answer is told it is off topic

# ---------------------------------------------------------------------------
# structural signals: grammar and register, the same for every question

_ADVERBS = (
    r"(?:(?:then|also|first|quickly|immediately|personally|eventually|finally|initially|later|"
    r"next|still|even|actually|just|carefully|deliberately|directly|explicitly|instead|"
    r"calmly|publicly|privately|proactively|together|once|only|never)\s+)*"
)
# irregular past tenses (a grammar list: regular ones end in -ed)
_IRREGULAR = (
    "built|wrote|rewrote|ran|reran|led|made|set|took|met|sat|began|spoke|brought|drew|chose|"
    "sent|found|held|gave|put|got|kept|split|cut|told|sought|paid|bought|taught|did|redid|went|"
    "won|dug|spent|read|left|drove|broke|fought|shut|stood|undertook|oversaw|rebuilt|"
    "flew|hung|dealt|meant|laid|lent|rang|rose|shook|sold|sped|stuck|swept|threw|"
    "woke|withdrew|forgave|overcame|rode|fed|let|hit|quit|shed|spun|saw|heard|thought|felt|knew"
)
# verbs of being, feeling and knowing: they tell how it was, not what the candidate did
_NOT_ACTIONS = (
    "was|were|had|felt|thought|learned|learnt|realised|realized|needed|wanted|liked|loved|hoped|"
    "knew|remembered|noticed|assumed|expected|worried|wondered|enjoyed|hated|preferred|agreed|"
    "seemed|used|happened|managed|disagreed|believed|struggled|failed|forgot|missed|received|"
    "got|saw|heard|guessed|wished|tried"
)
_I_ACTION = re.compile(rf"\bI\s+{_ADVERBS}(?!(?:{_NOT_ACTIONS})\b)([a-z]+ed|{_IRREGULAR})\b")
_WE_ACTION = re.compile(rf"\b[Ww]e\s+{_ADVERBS}(?!(?:{_NOT_ACTIONS})\b)([a-z]+ed|{_IRREGULAR})\b")
# what one usually does or believes, said in the present or as advice: not a story
_GENERAL = re.compile(
    r"\b(?:I|we)\s+(?:usually|always|generally|typically|normally|often|tend\s+to|try\s+to|"
    r"like\s+to|am|'m|do\s+not|don't|never)\b|\bI'm\b|\bI\s+(?:think|believe|feel)\b|"
    r"\b(?:it's|it\s+is|is)\s+(?:important|key|essential|crucial|vital)\b|\bthe\s+key\b|"
    r"\byou\s+(?:should|have\s+to|need\s+to|must|can)\b|\bin\s+general\b|"
    r"\bwhenever\b|\bwhen\s+I\s+(?:get|have|see|face|work|need)\b",
    re.IGNORECASE,
)
# anchors in time and place: a particular occasion rather than a habit
_CONTEXT = re.compile(
    r"\b(?:at|in|for)\s+(?:my|a|an|the|our|one|\w+'s)\s+(?:[\w-]+\s+){0,4}?(?:company|startup|"
    r"job|role|team|agency|firm|bank|employer|organisation|organization|retailer|"
    r"marketplace|platform|project|business|hospital|school|university|lab|client|"
    r"consultancy|department|group|squad)\b|"
    r"\b(?:when|while)\s+I\s+(?:was|joined|worked|started|moved|led|ran)\b|"
    r"\bI\s+was\s+(?:a|an|the|one\s+of|working|on\s+the|leading|part\s+of|new|hired|given|"
    r"handed|asked|assigned|responsible)\b|"
    r"\b(?:in|during|by|since)\s+(?:early\s+|late\s+|mid-)?(?:19|20)\d\d\b|"
    r"\blast\s+(?:year|summer|spring|autumn|fall|winter|quarter|month|week)\b|"
    r"\b(?:a|two|three|four|five|six|few|\d+)\s+(?:years?|months?|weeks?)\s+ago\b|"
    r"\bin\s+my\s+(?:first|second|third|last|previous|current|old|former|early)\s+"
    r"(?:job|role|year|company|team|position|week|month|months|days)\b|"
    r"\bon\s+a\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\bI\s+(?:joined|inherited|noticed|took\s+over)\b|^(?:once|one\s+day|back\s+in)\b",
    re.IGNORECASE,
)
# why it mattered
_STAKES = re.compile(
    r"\bat\s+stake\b|\bwhich\s+meant\b|\bwould\s+(?:cost|mean|lose|block|break|miss|delay)\b|"
    r"\brisks?\b|\bdeadline\b|\bblocked\b|\bincidents?\b|\boutages?\b|\bcompliance\b|"
    r"\bbroke\b|\bbroken\b|\blost\b|\bfailing\b|\bcustomers?\s+could(?:n't|\s+not)\b|"
    r"\bcost(?:ing)?\s+us\b",
    re.IGNORECASE,
)
# the candidate's own responsibility
_OWNERSHIP = re.compile(
    r"\bmy\s+(?:main\s+|first\s+|only\s+|own\s+)?(?:task|job|role|goal|responsibility|aim|"
    r"objective|part|brief|mistake|fault|call|decision)\b|"
    r"\bI\s+was\s+(?:responsible|asked|tasked|assigned|in\s+charge|accountable|the\s+(?:lead|"
    r"owner|on-call|engineer|one|only|mentor|manager))\b|"
    r"\bI\s+(?:needed|had|wanted|was\s+supposed|was\s+meant|set\s+out|committed)\s+to\b|"
    r"\bI\s+owned\b|\bit\s+was\s+(?:my|up\s+to\s+me)\b|\b(?:was|were)\s+mine\b|"
    r"\bthe\s+(?:goal|aim|objective|task|ask|brief)\s+was\b",
    re.IGNORECASE,
)
_REASONING = re.compile(
    r"\bbecause\b|\bso\s+that\b|\bto\s+make\s+sure\b|\bto\s+ensure\b|\bin\s+order\s+to\b|"
    r"\bso\s+I\b|\bwhich\s+meant\b|\binstead\s+of\b|\brather\s+than\b|\bsince\s+(?:the|it|we)\b",
    re.IGNORECASE,
)
_SEQUENCE = re.compile(
    r"\b(?:first|then|next|after\s+that|afterwards|finally|started\s+by|meanwhile|"
    r"the\s+(?:next|following)\s+(?:day|week|morning))\b",
    re.IGNORECASE,
)
# how it ended: a marker of outcome or a verb of change
_OUTCOME = re.compile(
    r"\bas\s+a\s+result\b|\bin\s+the\s+end\b|\bultimately\b|\beventually\b|\bby\s+the\s+end\b|"
    r"\bthe\s+(?:result|outcome)\b|\b(?:after|within)\s+(?:\d+|a|one|two|three|four|five|six|"
    r"ten|a\s+few)\s+(?:days?|weeks?|months?|quarters?|years?|sprints?)\b|"
    r"\bover\s+the\s+(?:next|following)\b|\bwent\s+from\b|\bno\s+longer\b|"
    r"\b(?:reduced|increased|improved|dropped|fell|rose|grew|saved|doubled|halved|tripled|"
    r"shrank|shipped|launched|released|delivered|passed|renewed|adopted|resolved|recovered|"
    r"avoided|completed|finished|achieved|exceeded|succeeded|won|fixed|cut|migrated|"
    r"stopped|approved|accepted|agreed|promoted|hired|merged)\b",
    re.IGNORECASE,
)
# an ending that says nothing about what changed
_VAGUE_OUTCOME = re.compile(
    r"\bit\s+(?:all\s+)?(?:worked\s+out|worked\s+fine|was\s+(?:fine|ok|okay|good)|"
    r"went\s+(?:ok|okay|well|fine)|helped|got\s+better)\b|\bthings\s+(?:worked\s+out|"
    r"got\s+better)\b|\beveryone\s+was\s+happy\b|\bwe\s+got\s+it\s+done\b",
    re.IGNORECASE,
)
_REFLECTION = re.compile(
    r"\bI\s+(?:have\s+|'ve\s+)?(?:learned|learnt|realised|realized)\b|\bI've\s+(?:learned|learnt)\b|"
    r"\b(?:lesson|lessons|takeaway|insight)\b|\btaught\s+me\b|\bin\s+hindsight\b|"
    r"\blooking\s+back\b|\bnext\s+time\b|\bdo\s+(?:it\s+)?differently\b|"
    r"\bI\s+would\s+(?:now|have|do)\b|\bI'd\s+(?:now|have|do)\b|\bsince\s+then\b|\bnow\s+I\b|"
    r"\bI\s+now\b|\bI've\s+since\b|\bchanged\s+how\s+I\b|\bmade\s+me\s+(?:realise|realize)\b|"
    # other common ways of drawing a lesson: what the candidate took from the story
    r"\btook\s+away\b|\btook\s+from\s+(?:it|this|that)\b|\b(?:stuck|stayed)\s+with\s+me\b|"
    r"\b(?:showed|reminded|convinced|told)\s+me\s+that\b|\bI\s+(?:came|walked)\s+away\b|"
    r"\bwhat\s+I\s+(?:got|took)\s+(?:out\s+of|from)\b",
    re.IGNORECASE,
)
# a lesson that changed how the candidate works
_CHANGE = re.compile(
    r"\bnext\s+time\b|\bnow\s+I\b|\bI\s+now\b|\bsince\s+then\b|\bI've\s+since\b|"
    r"\bchanged\s+how\s+I\b|\bI\s+(?:always|never)\s+now\b|\bfrom\s+then\s+on\b|"
    r"\bI\s+started\s+\w+ing\b",
    re.IGNORECASE,
)
# a maxim rather than a lesson drawn from this story
_MAXIM = re.compile(
    r"\b(?:important|key|essential|crucial)\s+(?:to|thing|is)\b|\bis\s+(?:key|important)\b|"
    r"\bthe\s+main\s+thing\b|\bmade\s+me\s+a\s+better\b",
    re.IGNORECASE,
)
# who or what an outcome reached
_AFFECTED = re.compile(
    r"\b(?:customers?|users?|clients?|patients?|revenue|costs?|profit|contracts?|sales|"
    r"conversion|churn|retention|latency|incidents?|outages?|pages|on-call|hours|saved|"
    r"savings|budget|other\s+teams?|company-wide|standard|template|default|convention|"
    r"playbook|runbook|checklist|process|adopted|engineers|team|quality|business|people|"
    r"colleagues|support|everyone|time|days|weeks)\b|"
    r"[$\u20ac\u00a3]",
    re.IGNORECASE,
)
# an outcome that outlived the task or reached beyond it
_BROAD = re.compile(
    r"\bother\s+teams?\b|\b(?:two|three|four|five|six|all|every|\d+)\s+(?:other\s+)?teams\b|"
    r"\bcompany-wide\b|\bacross\s+(?:the\s+)?(?:teams|company|org|organisation|organization)\b|"
    r"\bbecame\s+(?:the|a|our)\s+(?:standard|template|default|convention|norm|practice)\b|"
    r"\b(?:standard|template|convention|playbook|runbook|checklist)\b|\badopted\b|"
    r"\b(?:now|still)\s+(?:use|uses|used|runs?|follows?)\b|\brolled\s+(?:it\s+)?out\b|"
    r"\b(?:the\s+)?whole\s+(?:\w+\s+)?(?:team|company|org|department)\b|"
    r"\b(?:a|one|two)\s+years?\s+later\b",
    re.IGNORECASE,
)
_METRIC = re.compile(
    r"\d|\b(?:doubled|halved|tripled|zero|none|no\s+longer)\b|[$\u20ac\u00a3%]", re.IGNORECASE
)
_NUMBER_WORD = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|half|dozen|doubled|halved|tripled)\b"
    r"(?:\s+[a-z-]+)?|\b(?:a|one)\s+(?:day|week|month|quarter|year|sprint|fortnight)\b",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"[$\u20ac\u00a3]?\d[\d,.]*\s*(?:%|k\b|ms\b|x\b)?")
_VAGUE = re.compile(
    r"\b(?:things|stuff|somehow|a\s+lot|basically|kind\s+of|sort\s+of|pretty\s+much|everyone|"
    r"everybody|always|usually|generally|normally|some|fine|okay|ok|various|etc)\b",
    re.IGNORECASE,
)
# names of people, products and tools: capitalised mid-sentence, or with digits
_PROPER = re.compile(
    r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][a-z]+[A-Z]?\w*|[A-Z]{2,}\w*|\w*\d\w*[A-Za-z]\w*)\b"
)
_SELF = frozenset({"I", "I'm", "I've", "I'd", "I'll"})
_FOCUS_LEAD = re.compile(
    r"^\s*(?:tell me about|tell me|describe|give me an example of|talk me through|talk about|"
    r"share|walk me through)\s+",
    re.IGNORECASE,
)
_CONTENT = re.compile(r"[A-Za-z]{5,}")


@dataclass
class Story:
    """What the answer shows, sentence by sentence."""

    sentences: list[Sentence]
    words: int
    relevance: float  # 0..1
    context: list[tuple[Sentence, int]] = field(default_factory=list)  # (sentence, offset)
    ownership: list[tuple[Sentence, int]] = field(default_factory=list)
    i_actions: list[tuple[Sentence, int, int]] = field(default_factory=list)  # + verb count
    we_actions: list[tuple[Sentence, int]] = field(default_factory=list)
    general: list[Sentence] = field(default_factory=list)
    reasoning: int = 0
    sequence: int = 0
    outcomes: list[tuple[Sentence, int]] = field(default_factory=list)
    vague_outcomes: list[tuple[Sentence, int]] = field(default_factory=list)
    reflection: list[tuple[Sentence, int]] = field(default_factory=list)
    maxims: list[tuple[Sentence, int]] = field(default_factory=list)
    affected: list[tuple[Sentence, int]] = field(default_factory=list)
    broad: list[tuple[Sentence, int]] = field(default_factory=list)
    figures_in: dict[int, int] = field(default_factory=dict)  # sentence index -> figures
    names_in: dict[int, int] = field(default_factory=dict)  # sentence index -> names
    figures: int = 0
    names: int = 0
    vague: int = 0
    stakes: int = 0

    def figures_of(self, s: Sentence) -> int:
        return self.figures_in.get(s.index, 0)

    def detail_of(self, s: Sentence) -> int:
        return self.figures_in.get(s.index, 0) + self.names_in.get(s.index, 0)


def relevance_share(topicality: float) -> float:
    """0..1 from how much the answer is about the question."""
    span = ON_TOPIC_TOPICALITY - OFF_TOPIC_TOPICALITY
    return max(0.0, min(1.0, (topicality - OFF_TOPIC_TOPICALITY) / span))


def read_story(
    question: BehavioralQuestionSnapshot, sentences: list[Sentence], *, judge_relevance: bool = True
) -> Story:
    text = " ".join(s.text for s in sentences)
    story = Story(
        sentences=sentences,
        words=sum(len(s.words) for s in sentences),
        relevance=relevance_share(relevance.topicality(question, text)) if judge_relevance else 1,
    )
    names_seen: set[str] = set()
    for s in sentences:
        text = s.text
        general = _GENERAL.search(text) is not None
        if general:
            story.general.append(s)
        figures = len(_DIGITS.findall(text)) + len(_NUMBER_WORD.findall(text))
        names = [
            m.group(0) for m in _PROPER.finditer(text) if m.start() > 0 and m.group(0) not in _SELF
        ]
        story.figures_in[s.index] = figures
        story.names_in[s.index] = len(names)
        story.figures += figures
        names_seen.update(names)
        if not general:
            if m := _CONTEXT.search(text):
                story.context.append((s, m.start()))
            if m := _OWNERSHIP.search(text):
                story.ownership.append((s, m.start()))
            verbs = list(_I_ACTION.finditer(text))
            if verbs:
                story.i_actions.append((s, verbs[0].start(), len(verbs)))
            elif m := _WE_ACTION.search(text):
                story.we_actions.append((s, m.start()))
        story.reasoning += 1 if _REASONING.search(text) else 0
        story.sequence += 1 if _SEQUENCE.search(text) else 0
        later = s.index > 0 or len(sentences) == 1  # the opening sets the scene
        outcome = _OUTCOME.search(text)
        if outcome and not general and later:
            story.outcomes.append((s, outcome.start()))
        elif m := _VAGUE_OUTCOME.search(text):
            story.vague_outcomes.append((s, m.start()))
        if m := _REFLECTION.search(text):
            story.reflection.append((s, m.start()))
        elif (m := _MAXIM.search(text)) and s.index > 0:
            story.maxims.append((s, m.start()))
        if (
            (m := _AFFECTED.search(text) or _BROAD.search(text))
            and (outcome or _METRIC.search(text) or _BROAD.search(text))
            and not general
            and later
        ):
            story.affected.append((s, m.start()))
            if b := _BROAD.search(text):
                story.broad.append((s, b.start()))
        story.vague += len(_VAGUE.findall(text))
        story.stakes += 1 if _STAKES.search(text) else 0
    story.names = len(names_seen)
    return story


def _length_cap(n_words: int) -> int:
    """Too short an answer cannot show much, whatever it says."""
    for below, cap in ((12, 12), (30, 30), (60, 50), (100, 72), (150, 88)):
        if n_words < below:
            return cap
    return 100


@dataclass
class Reading:
    score: float
    evidence: tuple[str, ...]
    comment: str


def _situation(st: Story) -> Reading:
    items = sorted(st.context, key=lambda x: x[0].index)
    if not items:
        opener = [(s, 0) for s in st.sentences[:1] if s not in st.general and len(s.words) >= 6]
        if opener:
            return Reading(
                28,
                quotes(opener, 1),
                "Little context: say where and when this happened and what was at stake.",
            )
        return Reading(8, (), "No context: the answer never sets the scene.")
    detail = sum(st.detail_of(s) for s, _ in items[:3])
    score = 50 + 10 * min(len(items) - 1, 2) + min(24, 6 * detail) + min(12, 6 * st.stakes)
    if score >= 75:
        comment = (
            "Clear context: where and when it happened, who was involved and what was at stake."
        )
    elif score >= 55:
        comment = "Some context is given, but the stakes or the setting stay a little vague."
    else:
        comment = "Only a hint of context; the listener has to guess the setting and stakes."
    return Reading(score, quotes(items, 2), comment)


def _task(st: Story) -> Reading:
    items = sorted(st.ownership, key=lambda x: x[0].index)
    if not items:
        if st.i_actions and (st.context or len(st.i_actions) >= 2):
            first = min(st.i_actions, key=lambda x: x[0].index)
            return Reading(
                30 + min(20, 5 * (len(st.i_actions) - 1)),
                quotes([(first[0], first[1])], 1),
                "Your own responsibility is implied by what you did but never stated.",
            )
        return Reading(8, (), "Your own role and goal are never stated.")
    goal = any(
        st.figures_of(s) or re.search(r"\bwithin\b|\bby\b|\bso that\b|\bdeadline\b", s.text)
        for s, _ in items
    )
    score = 68 + 8 * min(len(items) - 1, 1) + (12 if goal else 0) + (6 if st.stakes else 0)
    comment = (
        "Your responsibility and what success meant are explicit."
        if score >= 80
        else "Your role is clear, but not what success looked like for you."
    )
    return Reading(score, quotes(items, 2), comment)


def _action(st: Story) -> Reading:
    n_i = sum(min(2, n) for _, _, n in st.i_actions)
    n_we = len(st.we_actions)
    if n_i == 0:
        if n_we:
            return Reading(
                28,
                quotes(st.we_actions, 1),
                "Only 'we' did things: it is not clear what you did yourself.",
            )
        return Reading(5, (), "No concrete actions are described.")
    ladder = (0, 45, 57, 67, 75, 81, 85, 88)
    score = ladder[min(n_i, len(ladder) - 1)] + min(8, 3 * st.reasoning) + min(5, 2 * st.sequence)
    if n_we > len(st.i_actions):
        score -= 8
    if len(st.general) > len(st.i_actions):
        score = min(score, 35)
    items = [(s, o) for s, o, _ in sorted(st.i_actions, key=lambda x: (-x[2], x[0].index))]
    if score >= 75:
        comment = f"Concrete steps you took yourself ({n_i} actions), with reasons for them."
    elif score >= 50:
        comment = "Some personal actions, but the steps and the reasons behind them are thin."
    else:
        comment = "Few actions of your own; mostly general statements or 'we'."
    return Reading(score, quotes(items, 3), comment)


def _result(st: Story) -> Reading:
    items = sorted(st.outcomes, key=lambda x: (-min(st.figures_of(x[0]), 3), -x[0].index))
    if not items:
        if st.vague_outcomes:
            return Reading(
                22,
                quotes(st.vague_outcomes, 1),
                "The outcome is only 'it worked out': say what changed and by how much.",
            )
        return Reading(6, (), "No outcome is given.")
    figures = sum(st.figures_of(s) for s, _ in items)
    score = 42 + 7 * min(len(items) - 1, 2) + 10 * min(figures, 4)
    if any(re.search(r"\bfrom\b[^.]{0,60}\bto\b", s.text) and st.figures_of(s) for s, _ in items):
        score += 6
    if figures >= 2:
        comment = "A measured outcome: you say what changed and by how much."
    elif figures == 1:
        comment = "An outcome with one figure; more measurement would make it convincing."
    else:
        comment = "An outcome is stated but not measured."
    return Reading(score, quotes(items, 2), comment)


def _specificity(st: Story) -> Reading:
    vague_density = st.vague / max(1, st.words) * 100
    score = 14 + min(50, 6 * st.figures) + min(26, 4 * st.names) - min(20, 4 * vague_density)
    density = (st.figures + st.names) / max(1, st.words) * 100
    if st.words > 350 and density < 3:
        score -= 8  # long and thin
    if st.words > 550:
        score -= 5
    if len(st.general) * 2 >= len(st.sentences):
        score = min(score, 30)
    ranked = sorted(st.sentences, key=lambda s: (-min(st.detail_of(s), 6), s.index))
    evidence = quotes([(s, 0) for s in ranked if st.detail_of(s)], 2)
    if not evidence:
        score = min(score, 20)
    if score >= 70:
        comment = "Specific: figures, names and concrete details make the story credible."
    elif score >= 45:
        comment = "Some concrete detail, but parts stay general."
    else:
        comment = "Generic: few numbers, names or concrete details."
    return Reading(score, evidence, comment)


def _impact(st: Story) -> Reading:
    items = sorted(st.affected, key=lambda x: (-min(st.figures_of(x[0]), 3), x[0].index))
    if not items:
        return Reading(8, (), "No effect on users, the team or the business is described.")
    quantified = sum(1 for s, _ in items if st.figures_of(s))
    broad = len(st.broad)
    score = 40 + 13 * min(quantified, 2) + 12 * min(broad, 2) + 4 * min(len(items) - 1, 2)
    broad_items = sorted(st.broad, key=lambda x: x[0].index)
    evidence = quotes(broad_items[:1] + [i for i in items if i not in broad_items[:1]], 2)
    if broad:
        comment = "Impact reaches beyond the task: others adopted or benefited from the change."
    elif quantified:
        comment = "Impact on users or the business is measured, but stays local to this task."
    else:
        comment = "Some effect is mentioned, but not how much it mattered."
    return Reading(score, evidence, comment)


def _story_words(st: Story, skip: set[int]) -> set[str]:
    return {
        w.lower() for s in st.sentences if s.index not in skip for w in _CONTENT.findall(s.text)
    }


def _reflection(st: Story) -> Reading:
    items = sorted(st.reflection, key=lambda x: -x[0].index)
    if not items:
        if st.maxims:
            return Reading(
                32,
                quotes(st.maxims, 1),
                "Only a generic lesson; say what you learned from this case and what "
                "you now do differently.",
            )
        return Reading(5, (), "No reflection on what you learned or would do differently.")
    # a lesson drawn from this story names something in it; a maxim could end any story
    rest = _story_words(st, {s.index for s, _ in items})
    specific = [
        s
        for s, _ in items
        if len(s.words) >= 12
        and len({w.lower() for w in _CONTENT.findall(s.text)} & rest) >= 2
        and not _MAXIM.search(s.text)
    ]
    change = any(_CHANGE.search(s.text) for s, _ in items)
    score = 45 + 10 * min(len(items) - 1, 1) + (22 if specific else 0) + (14 if change else 0)
    if score >= 75:
        comment = "A specific lesson and a change in how you work now."
    elif score >= 55:
        comment = "A lesson is named, but it is general or has no follow-through."
    else:
        comment = "Only a generic lesson, not one drawn from this story."
    return Reading(score, quotes(items, 2), comment)


_READERS: dict[str, Callable[[Story], Reading]] = {
    "situation": _situation,
    "task": _task,
    "action": _action,
    "result": _result,
    "specificity": _specificity,
    "impact": _impact,
    "reflection": _reflection,
}
# how much each dimension depends on the story being about the question (1 = fully)
_RELEVANCE_DEPENDENCE = {"specificity": 0.6}


def _unknown_dimension(st: Story, description: str) -> Reading:
    """A dimension without a reader of its own: the sentences closest in meaning to its
    description, and the overall strength of the story."""
    base = (_action(st).score + _result(st).score + _specificity(st).score) / 3
    hits = relevance.best_matches(description, [s.text for s in st.sentences])
    if not hits:
        return Reading(
            min(base, 25), (), "Nothing in the answer speaks to this dimension directly."
        )
    return Reading(
        base,
        quotes([(st.sentences[i], 0) for i in hits], 2),
        "Judged from related statements in the answer.",
    )


_STRENGTH_TEXT = {
    "situation": "Clear setting: where you were, when it happened and what was at stake.",
    "task": "You make your own responsibility explicit, not just the team's.",
    "action": "Concrete first-person actions ('I ...') in a sensible order, with reasons.",
    "result": "The outcome is measured, so the listener can judge the effect.",
    "specificity": "Specific figures, names and tools make the story credible.",
    "impact": "You show impact beyond the task itself: on users, the business or other teams.",
    "reflection": "Honest reflection with a concrete change in how you work now.",
}
_IMPROVE_TEXT = {
    "situation": (
        "Open with one or two sentences of context: where you were, when, who was "
        "involved and what was at stake."
    ),
    "task": (
        "State your own responsibility explicitly: what you personally had to achieve, and by when."
    ),
    "action": "Describe 3-4 concrete steps you took yourself, in order, and why you chose them.",
    "result": "Quantify the result: say what changed and by how much (time, money, errors, users).",
    "specificity": (
        "Add concrete details: numbers, dates, sizes, and the names of the tools, "
        "systems or people involved."
    ),
    "impact": (
        "Show the wider impact: who benefited beyond the immediate task, and what changed "
        "for the team or company afterwards."
    ),
    "reflection": "Close with what you learned and what you now do differently because of it.",
}
_INJECTION_NOTE = (
    "Instructions addressed to the grader inside an answer are ignored and never raise a "
    "score; spend those words on your own story."
)
_STAR_HINT = (
    "Answer with one real example told as STAR: situation, your task, the actions "
    "you took, and the measured result."
)


def focus(prompt: str) -> str:
    """What the question asks for, e.g. "a time you disagreed with a teammate"."""
    first = re.split(r"(?<=[.?!])\s+", prompt.strip(), maxsplit=1)[0].rstrip(".?! ")
    rest = _FOCUS_LEAD.sub("", first, count=1).strip()
    return rest or first


def to_you(text: str) -> str:
    """Rubric text speaks of "the candidate"; guidance speaks to them."""
    text = re.sub(r"\bthe candidate's\b", "your", text, flags=re.IGNORECASE)
    return re.sub(r"\bthe candidate\b", "you", text, flags=re.IGNORECASE)


def outline(question: BehavioralQuestionSnapshot) -> str:
    rubric = {r.dimension: r for r in question.rubric}
    comps = ", ".join(c.replace("-", " ") for c in question.competencies)

    def top(dim: str) -> str:
        r = rubric.get(dim)
        if r is None:
            return ""
        best = r.levels.get("5") or r.description
        return f" A top answer: {to_you(best).rstrip('.')}."

    lines = [
        f"- Situation: one real example ({focus(question.prompt)}): where you were, when, who "
        f"was involved and what was at stake.{top('situation')}",
        f"- Task: what you personally were responsible for and what success meant.{top('task')}",
        "- Action: 3-4 steps you took yourself, in order, and why"
        + (f", showing {comps}" if comps else "")
        + f".{top('action')}",
        f"- Result: what changed, with numbers (time, money, errors, users).{top('result')}",
        f"- Impact: who else benefited and what lasted afterwards.{top('impact')}",
        f"- Reflection: what you learned and what you now do differently.{top('reflection')}",
    ]
    return "\n".join(lines)


def _empty(
    question: BehavioralQuestionSnapshot, comment: str, improvements: tuple[str, ...]
) -> AnswerResult:
    dims = tuple(
        DimensionScore(dimension=r.dimension, score=0, evidence=(), comment=comment)
        for r in question.rubric
    )
    result = AnswerResult(
        question_id=question.question_id,
        score=0,
        dimensions=dims,
        strengths=(),
        improvements=improvements,
        model_answer_outline=outline(question),
    )
    return guard.bound_behavioral(result, "", {r.dimension: r.weight for r in question.rubric})


def grade_behavioral_answer(
    question: BehavioralQuestionSnapshot, answer: str, *, judge_relevance: bool = True
) -> AnswerResult:
    """Score one behavioural answer against the question's rubric (deterministic; blocking
    for the model's first load, see `relevance.warm_up`).

    With `judge_relevance=False` every dimension is read as if the story were about the
    question: what the text shows, for bounding a model's grading (the model is the better
    judge of what a story is about; the offline reading bounds what the text evidences)."""
    weights = {r.dimension: r.weight for r in question.rubric}
    sentences = split_sentences(answer)
    flagged = [s for s in sentences if s.injected]
    clean = unique_sentences(sentences)
    if not sentences:
        return _empty(
            question,
            "No answer was given, so there is nothing to score.",
            ("Give an answer: even a short, real example scores more than none.", _STAR_HINT),
        )
    if not clean:
        return _empty(
            question,
            "The answer only contains instructions to the grader, which are ignored; there is "
            "no story to score.",
            (_INJECTION_NOTE, _STAR_HINT),
        )
    story = read_story(question, clean, judge_relevance=judge_relevance)
    mostly_injection = sum(len(s.text) for s in flagged) > sum(len(s.text) for s in clean)
    cap = _length_cap(story.words)
    factor = RELEVANCE_FLOOR + (1 - RELEVANCE_FLOOR) * story.relevance
    off_topic = story.relevance < OFF_TOPIC
    topic = question.title.lower()

    dims: list[DimensionScore] = []
    raw: dict[str, float] = {}
    for r in question.rubric:
        reader = _READERS.get(r.dimension)
        d = reader(story) if reader else _unknown_dimension(story, r.description)
        dep = _RELEVANCE_DEPENDENCE.get(r.dimension, 1.0)
        score = d.score * (1 - dep + dep * factor)
        comment = d.comment
        if off_topic and d.score > 20 and dep > 0:
            comment = f"{comment} However, the story is not about {topic}, so it counts for little."
        score = min(score, cap)
        if cap < 50 and d.score > cap:
            comment = f"{comment.rstrip('.')}; the answer is too short to show more."
        if flagged:
            score *= INJECTION_FACTOR
        if mostly_injection:
            if score > MOSTLY_INJECTION_CAP:
                comment = (
                    f"{comment.rstrip('.')}; most of the answer is instructions to the grader, "
                    "which are ignored."
                )
            score = min(score, MOSTLY_INJECTION_CAP)
        if not d.evidence:
            score = min(score, guard.NO_EVIDENCE_CAP)
        raw[r.dimension] = score
        dims.append(
            DimensionScore(
                dimension=r.dimension,
                score=clamp(score),
                evidence=d.evidence,
                comment=one_line(comment, 200),
            )
        )

    strengths: list[str] = []
    ranked = sorted(question.rubric, key=lambda r: (-raw[r.dimension] * r.weight, r.dimension))
    for r in ranked:
        if raw[r.dimension] >= 70 and len(strengths) < 3:
            strengths.append(_STRENGTH_TEXT.get(r.dimension, f"Strong on {r.dimension}."))
    if not strengths and not off_topic and story.words >= 20:
        strengths.append("You chose an example that fits the question.")

    improvements: list[str] = []
    if off_topic:
        improvements.append(
            f"Answer the question asked: the story should be about {focus(question.prompt)}."
        )
    if flagged:
        improvements.append(_INJECTION_NOTE)
    if story.words < 60:
        improvements.append(
            "Give a complete story of about 150-300 words: situation, task, actions and result."
        )
    if story.general and len(story.general) * 2 >= len(clean):
        improvements.append(
            "Tell one specific past story instead of what you usually do or believe in general."
        )
    if story.we_actions and len(story.we_actions) > len(story.i_actions):
        improvements.append(
            "Say what you did yourself: replace 'we' with your own steps ('I proposed', 'I built')."
        )
    gaps = sorted(question.rubric, key=lambda r: ((raw[r.dimension] - 100) * r.weight, r.dimension))
    for threshold, wanted in ((75, 3), (90, 2)):  # the weak spots first, then the next best
        for r in gaps:
            if len(improvements) >= wanted:
                break
            if raw[r.dimension] < threshold:
                text = _IMPROVE_TEXT.get(
                    r.dimension, f"Strengthen {r.dimension}: {to_you(r.description)}"
                )
                if text not in improvements:
                    improvements.append(text)
    if len(improvements) < 2:
        improvements.append(
            "Tighten the story: keep the context short and spend the words on your actions "
            "and results."
        )

    result = AnswerResult(
        question_id=question.question_id,
        score=0,
        dimensions=tuple(dims),
        strengths=tuple(strengths[:3]),
        improvements=tuple(improvements[:3]),
        model_answer_outline=outline(question),
    )
    # the sentences addressed to the grader were found above with the guard's own detector
    return guard.bound_behavioral(result, answer, weights, flagged=[s.text for s in flagged])
