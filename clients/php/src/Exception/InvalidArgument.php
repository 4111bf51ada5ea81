<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

/**
 * A bad argument: an empty job type, params that are not a JSON object, a
 * max_attempts below 1, an empty key.  Raised before the query when the
 * client can tell, else from the database's refusal (SQLSTATE 22023).
 */
final class InvalidArgument extends \InvalidArgumentException implements GeoworkerdException
{
}
