"""Workers on several machines: SPARK_MARKET_QUEUES sends each market's dispatch rounds to its
own Celery queue; everything else stays on the default queue."""

from spark.celery import app


def queue_of(name: str, args: list) -> str:
    return app.amqp.router.route({}, name, args=args, kwargs={})["queue"].name


def test_a_listed_markets_rounds_go_to_its_queue(settings):
    settings.SPARK_MARKET_QUEUES = {"1": "south", "2": "south", "3": "west"}
    assert queue_of("dispatch.tasks.dispatch_round", [1]) == "south"
    assert queue_of("dispatch.tasks.dispatch_round", [3]) == "west"


def test_other_markets_and_other_tasks_stay_on_the_default_queue(settings):
    settings.SPARK_MARKET_QUEUES = {"1": "south"}
    assert queue_of("dispatch.tasks.dispatch_round", [9]) == "celery"
    assert queue_of("dispatch.tasks.offers_expire_due", []) == "celery"
    assert queue_of("payouts.tasks.earnings_post", []) == "celery"


def test_without_the_setting_every_round_stays_on_the_default_queue(settings):
    settings.SPARK_MARKET_QUEUES = {}
    assert queue_of("dispatch.tasks.dispatch_round", [1]) == "celery"
