DROP INDEX topics_title_key;
