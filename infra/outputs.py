"""Stack-output names, defined once.

``infra/__main__.py`` exports under these names and nothing else does; the tests,
the README and ``pulumi stack output`` users read the same constants.
"""

VPC_ID = "vpcId"
CLUSTER_NAME = "clusterName"
KUBECONFIG = "kubeconfig"
"""Secret: it names the cluster endpoint and CA, and how to get a token."""
DB_WRITER_ENDPOINT = "dbWriterEndpoint"
DB_READER_ENDPOINT = "dbReaderEndpoint"
DB_SECRET_ARN = "dbSecretArn"  # noqa: S105 - the output's name; its value is an ARN
EVENT_BUS_NAME = "eventBusName"
QUEUE_URLS = "queueUrls"
"""A map from each topology queue key to its URL."""
ALARM_TOPIC_ARN = "alarmTopicArn"
"""The SNS topic the queue alarms notify; subscribe to it (``alarmEmail`` or by hand)."""
ECR_REPOSITORY_URL = "ecrRepositoryUrl"
WRITE_API_URL = "writeApiUrl"
READ_API_URL = "readApiUrl"
NAMESPACE = "namespace"
CACHE_URL = "cacheUrl"
"""``rediss://<primary endpoint>:6379``; empty when the stack has no cache."""
CACHE_AUTH_SECRET_ARN = "cacheAuthSecretArn"  # noqa: S105 - the output's name; its value is an ARN
"""The secret holding the cache's AUTH token; empty when the stack has no cache."""
OTLP_ENDPOINT = "otlpEndpoint"
"""The collector's OTLP/HTTP endpoint; empty when the stack has no collector."""
DASHBOARD_NAME = "dashboardName"
AUTH_ISSUER = "authIssuer"
"""The issuer (iss) of the tokens the APIs accept."""
AUTH_TOKEN_URL = "authTokenUrl"  # noqa: S105 - the output's name; its value is a URL
"""The user pool's OAuth 2.0 token endpoint (client credentials); empty with ``apiAuth``."""
PEOPLE_CLIENT_ID = "peopleClientId"
"""The app client people sign in with; empty with ``apiAuth``."""
MACHINE_CLIENT_ID = "machineClientId"
"""The app client of machines (``make load``); empty with ``apiAuth``."""
MACHINE_CLIENT_SECRET = "machineClientSecret"  # noqa: S105 - the output's name
"""Secret: the machine client's secret; empty with ``apiAuth``."""

ALL = (
    VPC_ID,
    CLUSTER_NAME,
    KUBECONFIG,
    DB_WRITER_ENDPOINT,
    DB_READER_ENDPOINT,
    DB_SECRET_ARN,
    EVENT_BUS_NAME,
    QUEUE_URLS,
    ALARM_TOPIC_ARN,
    ECR_REPOSITORY_URL,
    WRITE_API_URL,
    READ_API_URL,
    NAMESPACE,
    CACHE_URL,
    CACHE_AUTH_SECRET_ARN,
    OTLP_ENDPOINT,
    DASHBOARD_NAME,
    AUTH_ISSUER,
    AUTH_TOKEN_URL,
    PEOPLE_CLIENT_ID,
    MACHINE_CLIENT_ID,
    MACHINE_CLIENT_SECRET,
)
SECRET = frozenset({KUBECONFIG, MACHINE_CLIENT_SECRET})
