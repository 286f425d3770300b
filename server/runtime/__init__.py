"""The process runtime: the command line, configuration, logging, serving one process or a group of workers, helper threads, memory, durable jobs and housekeeping."""
