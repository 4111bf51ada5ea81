<?php

// The tests run without Composer: PSR-4 loading of Geoworkerd\ from src/,
// and Debian's phpunit brings its own autoloader.
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefixes = ['Geoworkerd\\Tests\\' => __DIR__ . '/', 'Geoworkerd\\' => dirname(__DIR__) . '/src/'];
    foreach ($prefixes as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
