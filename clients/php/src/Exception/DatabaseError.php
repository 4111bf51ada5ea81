<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

/** A query failed; sqlState is PostgreSQL's code (e.g. 42501: permission denied). */
final class DatabaseError extends \RuntimeException implements GeoworkerdException
{
    public function __construct(string $message, public readonly ?string $sqlState = null)
    {
        parent::__construct($message);
    }
}
