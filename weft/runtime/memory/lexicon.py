"""The words the reuse rule reads a task by: operations, deliverables, parameters.

Two tasks can share most words and still need different plans ("export the
customer list" against "clean the customer list"). What tells them apart is
the *operation* asked for (the verb, or a noun standing for it: "a
comparison of") and the *deliverable* (report, chart, email...). Everything
else that may change without changing the plan -- names, languages, file
names, dates, numbers, formats -- is a *parameter* and is masked as a slot.

These tables are data, not logic (``signature.py`` reads them). Synonyms
share one canonical word; ``PRODUCE`` verbs only say "make something" and
give way to an operation named by a noun ("write a summary" = summarize).
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


def _classes(table: dict[str, str]) -> dict[str, str]:
    """``"canonical": "syn syn ..."`` -> word -> canonical."""
    out: dict[str, str] = {}
    for canonical, words in table.items():
        out[canonical] = canonical
        for word in words.split():
            out[word] = canonical
    return out


#: Verb (base form) -> canonical operation. "produce" is the generic "make it".
OPERATIONS: dict[str, str] = _classes(
    {
        "produce": "write draft compose author pen create make build generate prepare "
        "produce design develop craft formulate assemble put come construct devise give "
        "provide need want like",
        "summarize": "summarise condense recap digest abridge shorten tldr",
        "translate": "localize localise",
        "compare": "contrast benchmark weigh",
        "export": "download dump extract_to save_as",
        "import": "upload ingest load",
        "clean": "dedupe deduplicate normalize normalise tidy scrub sanitize sanitise cleanse",
        "review": "critique proofread check assess evaluate inspect vet examine audit appraise "
        "grade mark score",
        "edit": "revise rewrite rephrase polish improve refine update modify change adjust amend",
        "forecast": "predict project extrapolate anticipate",
        "analyze": "analyse study investigate explore interpret break",
        "research": "look search find discover gather collect compile survey scout",
        "translate_speech": "transcribe",
        "schedule": "book arrange organize organise set",
        "reschedule": "postpone move_meeting",
        "cancel": "delete remove drop abort call_off",
        "send": "email mail forward notify remind",
        "answer": "reply respond",
        "fix": "repair debug patch resolve correct troubleshoot",
        "test": "run execute",
        "explain": "describe clarify justify teach",
        "classify": "categorize categorise label tag sort group triage bucket",
        "rank": "prioritize prioritise order shortlist",
        "count": "tally tabulate enumerate",
        "calculate": "compute figure work",
        "estimate": "gauge approximate quote",
        "convert": "transform reformat turn",
        "merge": "combine join consolidate unify",
        "split": "separate divide",
        "validate": "verify confirm",
        "optimize": "optimise speed tune reduce cut lower minimize minimise",
        "backup": "back archive snapshot",
        "restore": "recover",
        "migrate": "move port transfer",
        "upgrade": "bump",
        "plan": "plot map",
        "outline": "sketch",
        "negotiate": "haggle",
        "interview": "screen",
        "visualize": "visualise chart plot_",
        "monitor": "watch track",
        "deploy": "release ship publish launch",
        "install": "setup configure",
        "announce": "advertise promote",
    }
)

#: Nouns that name an operation: "a comparison of X" asks to compare X.
NOMINAL_OPERATIONS: dict[str, str] = {
    "summary": "summarize",
    "summaries": "summarize",
    "overview": "summarize",
    "recap": "summarize",
    "synopsis": "summarize",
    "digest": "summarize",
    "tldr": "summarize",
    "translation": "translate",
    "comparison": "compare",
    "forecast": "forecast",
    "prediction": "forecast",
    "projection": "forecast",
    "analysis": "analyze",
    "review": "review",
    "critique": "review",
    "audit": "review",
    "evaluation": "review",
    "feedback": "review",
    "estimate": "estimate",
    "transcript": "translate_speech",
    "transcription": "translate_speech",
    "backup": "backup",
    "outline": "outline",
    "ranking": "rank",
    "classification": "classify",
    "tally": "count",
    "count": "count",
    "calculation": "calculate",
    "research": "research",
}

#: Deliverable nouns -> canonical deliverable.
DELIVERABLES: dict[str, str] = _classes(
    {
        "report": "writeup write-up whitepaper paper",
        "chart": "graph visualization visualisation diagram histogram",
        "table": "spreadsheet sheet matrix",
        "email": "message mail e-mail",
        "letter": "",
        "memo": "memorandum",
        "post": "article blog blogpost",
        "tweet": "toot thread",
        "slides": "deck presentation slideshow slide",
        "list": "checklist",
        "plan": "itinerary roadmap strategy",
        "schedule": "calendar rota timetable",
        "timeline": "gantt",
        "agenda": "",
        "minutes": "",
        "notes": "",
        "dashboard": "",
        "invoice": "bill receipt",
        "proposal": "pitch",
        "contract": "agreement lease",
        "posting": "ad advert advertisement listing",
        "description": "blurb copy",
        "query": "sql",
        "tests": "test",
        "code": "script function program module snippet",
        "quiz": "exam questionnaire",
        "poem": "verse",
        "haiku": "",
        "sonnet": "",
        "limerick": "",
        "story": "tale",
        "speech": "talk",
        "faq": "",
        "newsletter": "",
        "release": "announcement",
        "kit": "pack packet",
        "guide": "handbook manual tutorial documentation docs",
        "routine": "regimen program_",
        "course": "curriculum syllabus lesson",
        "budget": "",
        "logo": "",
        "resume": "cv",
        "assessment": "",
        "form": "",
        "questions": "",
        "caption": "headline title",
        "summary": "",
        "recipe": "",
    }
)

#: Deliverable heads whose modifier names the kind ("meal plan" is not a "lesson plan").
COMPOUND_HEADS = frozenset(
    {
        "list",
        "plan",
        "notes",
        "kit",
        "release",
        "routine",
        "letter",
        "description",
        "schedule",
        "assessment",
        "form",
        "email",
        "post",
        "report",
        "guide",
        "tests",
    }
)

#: Words that modify a deliverable without changing its kind.
SOFT_MODIFIERS = frozenset(
    _words(
        """
        new short brief long detailed quick simple full final first second draft weekly
            monthly daily yearly annual quarterly big small good nice formal informal friendly
            polite clear concise official internal external updated revised complete our my your
            their its the a an this that these those some one another same bar pie line stacked
        """
    )
)

#: Languages and nationalities (the same word): parameters.
LANGUAGES = frozenset(
    _words(
        """
        english spanish french german italian portuguese dutch swedish norwegian danish
            finnish polish czech russian ukrainian greek turkish arabic hebrew persian hindi
            bengali urdu chinese mandarin cantonese japanese korean vietnamese thai indonesian
            malay tagalog swahili romanian hungarian bulgarian serbian croatian catalan basque
            latin haitian creole farsi pashto dari kurdish armenian georgian azerbaijani kazakh
            uzbek mongolian nepali sinhala tamil telugu marathi punjabi gujarati kannada
            malayalam amharic somali yoruba igbo hausa zulu xhosa khmer lao burmese estonian
            latvian lithuanian slovak slovenian icelandic irish welsh albanian macedonian
            bosnian filipino brazilian
        """
    )
)

#: File and data formats: parameters.
FORMATS = frozenset(
    _words(
        """
        csv json xml yaml yml pdf docx doc xlsx xls excel html markdown md txt parquet sql
            png jpg jpeg svg tsv pptx word
        """
    )
)

MONTHS = frozenset(
    _words(
        """
        january february march april may june july august september october november
            december jan feb mar apr jun jul aug sep sept oct nov dec
        """
    )
)

WEEKDAYS = frozenset(
    _words(
        """
        monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
            tonight weekend
        """
    )
)

#: How often something recurs: a parameter of a schedule ("purge temp files nightly").
FREQUENCIES = frozenset(
    _words("hourly nightly daily weekly biweekly fortnightly monthly quarterly yearly annually")
)

NUMBER_WORDS = frozenset(
    _words(
        """
        one two three four five six seven eight nine ten eleven twelve twenty thirty forty
            fifty hundred thousand million billion first second third fourth fifth sixth seventh
            eighth ninth tenth dozen half single double couple
        """
    )
)

#: Openings that are politeness, not the operation ("could you please ...").
PREFIX_WORDS = frozenset(
    _words(
        """
        please pls plz kindly can could would will you u i we me us let lets let's i'd we'd i'm
            we're to just help want need like love should must might may be able go ahead now
            quickly also and then so hi hey ok okay our team my i'll we'll is are there what how
        """
    )
)

#: Words that carry no subject (compared after the operation and deliverable agree).
FILLER = frozenset(
    _words(
        """
        a an the of for to in on at by with from into onto about as and or but that this
            these those it its our my your their his her them they we you i me us is are be was
            were been being do does did done have has had will would could can should please
            kindly some any all each every other another more most less than then so up out over
            under via per new within without which who whom what when where why how there here
            just also only very really s t let know get gets getting got need needs want wants
            like would'd i'd we'd using use based
        """
    )
)
